"""No user enumeration through ``login``: an unknown address, a wrong password, a frozen account
(password invalidated) and a locked account with a wrong password answer alike, in the same time.

Timing is compared loosely (medians within 2x over a dozen tries each): every case runs exactly one
Argon2 verification at the real cost, which dwarfs everything else a sign-in does.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from mamori_common.db import utcnow
from services.auth.accounts.models import Account, AccountState
from tests.auth.conftest import AuthHarness

PASSWORD = "plum-blossom-harbour-7"
TRIES = 12


def attempt(auth: AuthHarness, email: str, password: str, n: int) -> tuple[int, dict[str, Any], float]:
    """One sign-in from a fresh address (so throttling stays out of the comparison)."""
    started = time.perf_counter()
    response = auth.call("POST", "/api/auth/login", ip=f"198.51.100.{n + 1}",
                         json={"email": email, "password": password})
    elapsed = time.perf_counter() - started
    body = dict(response.json())
    body.pop("instance", None)
    return response.status_code, body, elapsed


def test_unknown_address_wrong_password_frozen_and_locked_accounts_answer_alike(auth: AuthHarness) -> None:
    auth.register("known@example.com")
    auth.register("frozen@example.com", name="Frozen Owner")
    auth.register("locked@example.com", name="Locked Owner")
    with auth.app.state.db.session() as db:
        db.execute(update(Account).where(Account.email == "frozen@example.com")
                   .values(state=AccountState.frozen, password_hash=None))
        db.execute(update(Account).where(Account.email == "locked@example.com")
                   .values(lock_case_id="c" * 32,
                           locked_until=utcnow() + timedelta(days=1)))
        db.commit()

    cases = {
        "unknown": ("nobody@example.com", PASSWORD),
        "wrong password": ("known@example.com", "not-the-password-1"),
        "frozen": ("frozen@example.com", PASSWORD),
        "locked, wrong password": ("locked@example.com", "not-the-password-1"),
    }
    answers: dict[str, set[tuple[int, str]]] = {name: set() for name in cases}
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for n in range(TRIES):  # interleaved, so a slow moment of the machine hits every case alike
        for index, (name, (email, password)) in enumerate(cases.items()):
            status, body, elapsed = attempt(auth, email, password, n * len(cases) + index)
            answers[name].add((status, repr(sorted(body.items()))))
            timings[name].append(elapsed)

    distinct = {answer for found in answers.values() for answer in found}
    assert len(distinct) == 1, answers
    status, body = next(iter(distinct))
    assert status == 401 and "invalid_credentials" in body
    medians = {name: statistics.median(values) for name, values in timings.items()}
    assert max(medians.values()) < 2 * min(medians.values()), medians
