"""The invariant of the sign-in door (signin/factors.py): no path issues tokens unless a factor
the account enrolled (TOTP, passkey, or a recovery code, their backup) was shown in that sign-in.

The attacker here has the password and the mailbox (stories S2, S5). Each test walks every path
that ends in tokens (a password, a step-up answer, a password reset and the sign-in after it, a
self-service unlock, a passkey alone, a recovery code) for one kind of account, and only the
enrolled factor opens a session.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.auth.conftest import AuthHarness
from tests.auth.test_passkeys import add_passkey, passkey_sign_in
from tests.auth.test_totp import code_now, enable_totp
from tests.support.auth_changes import mail_body, reset_token_in
from tests.support.auth_signin import (
    COMPLETE,
    EMAIL,
    HOME,
    LAPTOP,
    SEND_UNLOCK,
    UNLOCK,
    harness,
    login,
    mails_to,
    owner_signs_in_at_home,
    wait_for_code,
)
from tests.support.webauthn_authenticator import SoftwareAuthenticator

THIEF = "198.51.100.77"
THIEF_PHONE = "thief-phone-0001"
RESET_PASSWORD = "thief-chose-this-password-1"
UNLOCK_PASSWORD = "thief-chose-another-one-22"


@pytest.fixture
def auth(data_dir: Path) -> Iterator[AuthHarness]:
    """Three wrong step-up answers lock the account (the walk locks it once)."""
    yield from harness(data_dir, lock_after_failed_step_ups=3)


def answer(auth: AuthHarness, challenge: dict[str, Any], method: str, value: Any, **where: Any) -> Any:
    body: dict[str, Any] = {"challenge_id": challenge["challenge_id"], "method": method}
    body["credential" if method == "passkey" else "code"] = value
    return auth.call("POST", COMPLETE, json=body, **where)


def assert_step_up_owed(response: Any) -> dict[str, Any]:
    """A 401 asking for a factor, no tokens, and never the mailbox as the answer."""
    assert response.status_code == 401, response.text
    body = dict(response.json())
    assert body["code"] == "challenge_required" and "access_token" not in body, body
    assert "email_code" not in body["methods"], body
    return body


def reset_password_by_mail(auth: AuthHarness) -> None:
    """The thief resets the password from the thief's client with the token read in the mailbox."""
    asked = auth.call("POST", "/api/auth/password/reset", ip=THIEF, json={"email": EMAIL})
    assert asked.status_code == 202, asked.text
    token = reset_token_in(mail_body(auth, EMAIL, "password_reset"))
    done = auth.call(
        "POST",
        "/api/auth/password/reset/confirm",
        ip=THIEF,
        device=THIEF_PHONE,
        json={"token": token, "new_password": RESET_PASSWORD},
    )
    assert done.status_code == 200 and "access_token" not in done.json(), done.text


def unlock_with_the_mailed_code(auth: AuthHarness, **where: Any) -> Any:
    assert auth.call("POST", SEND_UNLOCK, json={"email": EMAIL}, **where).status_code == 202
    code = wait_for_code(auth, "unlock", 1)
    return auth.call("POST", UNLOCK, json={"email": EMAIL, "code": code, "new_password": UNLOCK_PASSWORD}, **where)


def test_an_account_with_totp_gets_tokens_only_with_its_totp_or_a_recovery_code(auth: AuthHarness) -> None:
    access = owner_signs_in_at_home(auth)
    secret, recovery_codes = enable_totp(auth, access)
    thief = {"ip": THIEF, "device": THIEF_PHONE}

    # 1. The password from a new device: the step-up is TOTP or a recovery code, no mailed code.
    challenge = assert_step_up_owed(login(auth, ip=THIEF, device=THIEF_PHONE))
    assert challenge["methods"] == ["totp", "recovery_code"]
    refused = answer(auth, challenge, "email_code", "123456", **thief)
    assert refused.status_code == 422 and refused.json()["code"] == "method_not_offered"
    assert mails_to(auth, "sign-in code") == []

    # 2. A password reset by mail, then the new password: the reset proved only the mailbox.
    reset_password_by_mail(auth)
    challenge = assert_step_up_owed(login(auth, RESET_PASSWORD, ip=THIEF, device=THIEF_PHONE))

    # 3. Wrong TOTP codes until the account locks, then the self-service unlock with the mailed
    #    code, even naming the owner's remembered laptop: the unlock ends in the normal step-up.
    answers = [
        answer(auth, challenge, "totp", "000000", **thief) for _ in range(auth.settings.lock_after_failed_step_ups)
    ]
    assert answers[-1].status_code == 423, answers[-1].text
    unlocked = unlock_with_the_mailed_code(auth, ip=THIEF, device=LAPTOP)
    challenge = assert_step_up_owed(unlocked)
    assert challenge["methods"] == ["totp", "recovery_code"]
    assert login(auth, UNLOCK_PASSWORD, ip=THIEF, device=LAPTOP).json()["code"] == "challenge_required"

    # 4. A recovery code the thief does not have fails; the owner's own recovery code passes.
    assert answer(auth, challenge, "recovery_code", "WRONG-CODE", ip=THIEF).json()["code"] == "invalid_code"
    owner = answer(auth, challenge, "recovery_code", recovery_codes[0], ip=HOME, device=LAPTOP)
    assert owner.status_code == 200 and owner.json()["access_token"], owner.text

    # 5. And the owner's TOTP passes the step-up of a sign-in from a new device.
    auth.clock.advance(seconds=31)
    fresh = assert_step_up_owed(login(auth, UNLOCK_PASSWORD, ip="192.0.2.77", device="hana-new-phone"))
    passed = answer(auth, fresh, "totp", code_now(auth, secret), ip="192.0.2.77", device="hana-new-phone")
    assert passed.status_code == 200 and passed.json()["access_token"], passed.text


def test_an_account_with_a_passkey_gets_tokens_only_with_its_passkey(auth: AuthHarness) -> None:
    access = owner_signs_in_at_home(auth)
    authenticator = SoftwareAuthenticator()
    recovery_codes = add_passkey(auth, access, authenticator)["recovery_codes"]  # the passkey's backup
    thief = {"ip": THIEF, "device": THIEF_PHONE}

    # 1. The password from a new device: only the passkey (or a recovery code) answers, no mailed code.
    challenge = assert_step_up_owed(login(auth, ip=THIEF, device=THIEF_PHONE))
    assert challenge["methods"] == ["passkey", "recovery_code"]
    refused = answer(auth, challenge, "email_code", "123456", **thief)
    assert refused.status_code == 422 and refused.json()["code"] == "method_not_offered"
    assert mails_to(auth, "sign-in code") == []

    # 2. A password reset by mail, then the new password.
    reset_password_by_mail(auth)
    challenge = assert_step_up_owed(login(auth, RESET_PASSWORD, ip=THIEF, device=THIEF_PHONE))

    # 3. Assertions relayed from a phishing page (a foreign origin) fail until the account locks;
    #    the unlock with the mailed code, from the owner's remembered laptop, still owes the passkey.
    answers = [
        answer(auth, challenge, "passkey", phished, **thief)
        for phished in (
            authenticator.get(challenge["passkey_options"], origin="https://mamori-login.example")
            for _ in range(auth.settings.lock_after_failed_step_ups)
        )
    ]
    assert answers[-1].status_code == 423, answers[-1].text
    challenge = assert_step_up_owed(unlock_with_the_mailed_code(auth, ip=THIEF, device=LAPTOP))
    assert challenge["methods"] == ["passkey", "recovery_code"]

    # 4. The owner's passkey answers that step-up; so does, with the passkey lost, a recovery code
    #    (the fallback); a passkey alone signs in too (two factors).
    owner = answer(auth, challenge, "passkey", authenticator.get(challenge["passkey_options"]), ip=HOME)
    assert owner.status_code == 200 and owner.json()["access_token"], owner.text
    lost = assert_step_up_owed(login(auth, UNLOCK_PASSWORD, ip="192.0.2.79", device="hana-borrowed-pc"))
    fallback = answer(auth, lost, "recovery_code", recovery_codes[0], ip="192.0.2.79", device="hana-borrowed-pc")
    assert fallback.status_code == 200 and fallback.json()["access_token"], fallback.text
    alone = passkey_sign_in(auth, authenticator, ip="192.0.2.78")
    assert alone.status_code == 200 and alone.json()["access_token"], alone.text


def test_the_door_is_the_only_place_a_sign_in_starts_a_session() -> None:
    """Every token-issuing path goes through ``factors.admit``: no other module starts a session."""
    root = Path(__file__).resolve().parents[2] / "services"
    callers = sorted(
        str(path.relative_to(root)) for path in root.rglob("*.py") if re.search(r"\bstart_session\(", path.read_text())
    )
    assert callers == ["auth/sessions/service.py", "auth/signin/factors.py"]  # its definition, and the door
