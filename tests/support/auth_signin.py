"""Helpers of the sign-in tests: logging in as the owner or an attacker, reading codes, locking out."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mamori_common.clock import ManualClock
from services.auth.accounts.models import Account
from services.auth.config import AuthSettings
from services.auth.main import create_app
from tests.auth.conftest import STRONG_PASSWORD, AuthHarness

LOGIN = "/api/auth/login"
COMPLETE = "/api/auth/challenges/complete"
SEND_UNLOCK = "/api/auth/unlock/code"
UNLOCK = "/api/auth/unlock"
EMAIL = "hana@example.com"
HOME = "192.0.2.10"  # the owner's usual address (documentation range: no country)
LAPTOP = "hana-laptop-0001"
ATTACKER = "198.51.100.66"
_FRESH_ADDRESSES = itertools.count(1000)


# -- helpers shared by the sign-in test modules ----------------------------------------------------


def login(
    auth: AuthHarness,
    password: str = STRONG_PASSWORD,
    *,
    ip: str = HOME,
    device: str | None = LAPTOP,
    email: str = EMAIL,
) -> Any:
    return auth.call("POST", LOGIN, ip=ip, device=device, json={"email": email, "password": password})


def complete(
    auth: AuthHarness,
    challenge_id: str,
    code: str,
    *,
    method: str = "email_code",
    ip: str = HOME,
    device: str | None = LAPTOP,
) -> Any:
    return auth.call(
        "POST", COMPLETE, ip=ip, device=device, json={"challenge_id": challenge_id, "method": method, "code": code}
    )


def owner_signs_in_at_home(auth: AuthHarness) -> str:
    """Register and sign in once from home: the account's baseline. Returns the access token."""
    auth.register(EMAIL)
    response = login(auth)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def mails_to(auth: AuthHarness, subject_part: str) -> list[Any]:
    return [mail for mail in auth.mails(EMAIL) if subject_part in mail.subject]


def wait_for_code(auth: AuthHarness, subject_part: str, count: int, timeout: float = 5.0) -> str:
    """The code in the ``count``-th mail whose subject contains ``subject_part`` (the mailer runs
    after the commit, so wait for it)."""
    deadline = time.monotonic() + timeout
    while len(found := mails_to(auth, subject_part)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail {count} about {subject_part!r}: {[m.subject for m in auth.mails(EMAIL)]}")
        time.sleep(0.02)
    return found[count - 1].code()


def account_row(auth: AuthHarness) -> Account:
    with auth.app.state.db.session() as db:
        account = db.execute(select(Account).where(Account.email == EMAIL)).scalar_one()
        db.expunge(account)
        return account


def count_hashes(auth: AuthHarness, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of Argon2 verifications the app runs (one list entry per verification)."""
    passwords = auth.app.state.passwords
    original = passwords.verify
    calls: list[int] = []

    def counting(stored_hash: str | None, password: str) -> Any:
        calls.append(1)
        return original(stored_hash, password)

    monkeypatch.setattr(passwords, "verify", counting)
    return calls


def harness(data_dir: Path, **settings: Any) -> Iterator[AuthHarness]:
    """An auth harness with some settings changed (each test says which, and why)."""
    clock = ManualClock()
    configured = AuthSettings(data_dir=data_dir, **settings)
    app = create_app(configured, migrate=True, clock=clock)
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        yield AuthHarness(client=client, app=app, clock=clock, data_dir=data_dir, settings=configured)


def lock_out(auth: AuthHarness, *, device: str = "thief-phone-0001") -> dict[str, Any]:
    """Someone who has the password fails the step-ups until the account locks; the 423 body.

    Each challenge from another address, so the per-address delays do not slow the test down.
    """
    for _ in range(auth.settings.lock_after_failed_step_ups):
        n = next(_FRESH_ADDRESSES)
        ip = f"198.51.{100 + n // 250}.{n % 250 + 1}"
        challenged = login(auth, ip=ip, device=device)
        if challenged.status_code == 423:
            return dict(challenged.json())
        assert challenged.json()["code"] == "challenge_required", challenged.text
        challenge_id = challenged.json()["challenge_id"]
        for _ in range(auth.settings.email_code_max_attempts):
            answer = complete(auth, challenge_id, "000000", ip=ip, device=device)
            if answer.status_code == 423:
                return dict(answer.json())
            assert answer.json()["code"] == "invalid_code", answer.text
    raise AssertionError("the account never locked")
