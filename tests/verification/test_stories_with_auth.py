"""S1 and S5 across two real apps: auth's own lock and revert become cases the customer reads.

Auth runs in-process (its clock moved by hand), verification is served over HTTP; auth's outbox
delivers ``account.locked`` / ``account.unlocked`` / ``session.compromised`` / ``account.frozen`` to
it as in production. The customer then reads the case from verification with the access token
auth gave them (verification checks it against auth's key, as it does with the JWKS).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mamori_common.clock import ManualClock
from mamori_common.events import BackoffPolicy
from mamori_common.tokens import AccessTokenVerifier
from services.auth.config import AuthSettings
from services.auth.main import create_app as create_auth_app
from services.verification.config import VerificationSettings
from services.verification.main import create_app as create_verification_app
from tests.auth.conftest import STRONG_PASSWORD, AuthHarness
from tests.auth.test_changes import mail_body, reset_token_in, revert_code_in, six_digit_code
from tests.auth.test_signin import (
    EMAIL,
    HOME,
    LAPTOP,
    SEND_UNLOCK,
    UNLOCK,
    lock_out,
    owner_signs_in_at_home,
    wait_for_code,
)
from tests.support.servers import ServerThread, serve, wait_until

NEW_PASSWORD = "lantern-over-the-river-4"


@dataclass
class Pair:
    auth: AuthHarness
    verification: FastAPI
    server: ServerThread

    def read_case(self, token: str, case_id: str) -> dict[str, Any] | None:
        response = httpx.get(
            f"{self.server.url}/api/verification/cases/{case_id}",
            headers={"authorization": f"Bearer {token}"},
            timeout=10,
        )
        return response.json() if response.status_code == 200 else None

    def wait_for_case(self, token: str, case_id: str, state: str) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            case = self.read_case(token, case_id)
            return case if case and case["state"] == state else None

        return wait_until(reached, timeout=15, interval=0.05, what=f"case {case_id} {state}")


@pytest.fixture
def pair(data_dir: Path) -> Iterator[Pair]:
    clock = ManualClock()
    verification = create_verification_app(VerificationSettings(data_dir=data_dir), migrate=True)
    with serve(verification) as server:
        settings = AuthSettings(data_dir=data_dir, verification_url=server.url, outbox_poll_interval=0.05)
        app = create_auth_app(
            settings, migrate=True, clock=clock, backoff=BackoffPolicy(base_seconds=0.05, max_seconds=0.2)
        )
        verification.state.token_verifier = AccessTokenVerifier(app.state.signing_key.resolve, clock)
        with TestClient(app, client=("127.0.0.1", 50000)) as client:
            yield Pair(
                AuthHarness(client=client, app=app, clock=clock, data_dir=data_dir, settings=settings),
                verification,
                server,
            )


def test_s1_the_lock_is_a_case_the_owner_reads_and_the_self_service_unlock_closes_it(pair: Pair) -> None:
    auth = pair.auth
    token = owner_signs_in_at_home(auth)
    locked = lock_out(auth)
    case = pair.wait_for_case(token, locked["case_id"], "awaiting_customer")
    assert case["kind"] == "lockout" and case["id"] == locked["case_id"]
    assert "unlock it at once" in case["timeline"][0]["summary"]["en"]

    assert auth.call("POST", SEND_UNLOCK, ip=HOME, json={"email": EMAIL}).status_code == 202
    code = wait_for_code(auth, "unlock code", 1)
    unlocked = auth.call(
        "POST", UNLOCK, ip=HOME, device=LAPTOP, json={"email": EMAIL, "code": code, "new_password": NEW_PASSWORD}
    )
    assert unlocked.status_code == 200, unlocked.text
    closed = pair.wait_for_case(unlocked.json()["access_token"], locked["case_id"], "closed")
    assert [entry["kind"] for entry in closed["timeline"]] == ["opened_lockout", "unlocked", "closed"]


def test_s5_the_revert_is_an_intrusion_case_the_owner_reads_after_recovering(pair: Pair) -> None:
    auth = pair.auth
    owner = "kenji@example.com"
    auth.register(owner)
    signed_in = auth.call("POST", "/api/auth/login", json={"email": owner, "password": STRONG_PASSWORD})
    token = signed_in.json()["access_token"]
    started = auth.call("POST", "/api/auth/email/change", token=token, json={"new_email": "thief@intruder.example"})
    code = six_digit_code(mail_body(auth, "thief@intruder.example", "email_change_code"))
    confirmed = auth.call(
        "POST",
        "/api/auth/email/confirm",
        token=token,
        json={"challenge_id": started.json()["challenge_id"], "code": code},
    )
    assert confirmed.status_code == 200, confirmed.text
    reverted = auth.call(
        "POST", "/api/auth/changes/revert", json={"code": revert_code_in(mail_body(auth, owner, "change_notice"))}
    )
    assert reverted.status_code == 200, reverted.text
    case_id = reverted.json()["case_id"]

    # After the cool-down the owner resets the password, signs in, and reads the case.
    auth.clock.advance(seconds=auth.settings.reset_cooldown_after_freeze_seconds + 60)
    assert auth.call("POST", "/api/auth/password/reset", json={"email": owner}).status_code == 202
    reset = auth.call(
        "POST",
        "/api/auth/password/reset/confirm",
        json={"token": reset_token_in(mail_body(auth, owner, "password_reset")), "new_password": NEW_PASSWORD},
    )
    assert reset.status_code == 200, reset.text
    back = auth.call("POST", "/api/auth/login", json={"email": owner, "password": NEW_PASSWORD})
    assert back.status_code == 200, back.text
    case = pair.wait_for_case(back.json()["access_token"], case_id, "awaiting_customer")
    assert case["kind"] == "intrusion"
    kinds = {entry["kind"] for entry in case["timeline"]}
    assert {"opened_intrusion", "session_compromised", "account_frozen"} <= kinds
