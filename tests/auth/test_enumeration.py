"""No user enumeration through ``login``: an unknown address, a wrong password, a frozen account
(password invalidated) and a locked account with a wrong password answer alike, in the same time.

"The same time" is checked by what costs the time, not by a stopwatch (which depends on the
machine's load): every case runs exactly one Argon2 verification at the real cost, which dwarfs
everything else a sign-in does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from mamori_common.db import utcnow
from services.auth.accounts.models import Account, AccountState
from tests.auth.conftest import AuthHarness

PASSWORD = "plum-blossom-harbour-7"
TRIES = 3


def attempt(auth: AuthHarness, email: str, password: str, n: int, hashes: list[int]) -> tuple[int, dict[str, Any], int]:
    """One sign-in from a fresh address (so throttling stays out of the comparison); the answer and
    how many Argon2 verifications it ran."""
    before = len(hashes)
    response = auth.call("POST", "/api/auth/login", ip=f"198.51.100.{n + 1}",
                         json={"email": email, "password": password})
    body = dict(response.json())
    body.pop("instance", None)
    return response.status_code, body, len(hashes) - before


def test_unknown_address_wrong_password_frozen_and_locked_accounts_answer_alike(
    auth: AuthHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    costs: dict[str, set[int]] = {name: set() for name in cases}
    hasher = auth.app.state.passwords  # each Passwords.verify is one Argon2 verification, real or dummy
    hashes: list[int] = []
    real_verify = hasher.verify

    def counted(*args: Any, **kwargs: Any) -> Any:
        hashes.append(1)
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(hasher, "verify", counted)
    for n in range(TRIES):
        for index, (name, (email, password)) in enumerate(cases.items()):
            status, body, cost = attempt(auth, email, password, n * len(cases) + index, hashes)
            answers[name].add((status, repr(sorted(body.items()))))
            costs[name].add(cost)

    distinct = {answer for found in answers.values() for answer in found}
    assert len(distinct) == 1, answers
    status, body = next(iter(distinct))
    assert status == 401 and "invalid_credentials" in body
    assert all(found == {1} for found in costs.values()), costs  # one Argon2 verification each, no more
