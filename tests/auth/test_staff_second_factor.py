"""Staff sign in with a second factor on every sign-in, and a staff account without one can only
enrol (issue 16, point 4: on main a specialist, support or admin signed in with the password alone)."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select

from mamori_common.clock import ManualClock
from services.auth.accounts.models import Account, Role
from services.auth.accounts.service import create_account
from services.auth.sessions.models import Session
from services.auth.staff.second_factor import enrol_totp_at_creation
from tests.auth.conftest import STRONG_PASSWORD, AuthHarness
from tests.support.auth_signin import COMPLETE, LOGIN

STAFF = "ken@staff.mamori.example"
DESK = "192.0.2.44"
ENROL = "/api/auth/staff/enrolment/totp"
CONFIRM = "/api/auth/staff/enrolment/totp/confirm"


def staff_account(auth: AuthHarness, role: Role, *, totp: bool) -> str | None:
    """A staff account as ``mamori staff create`` makes it (TOTP on), or one without any factor."""
    with auth.app.state.db.session() as db:
        account = create_account(
            db, auth.app.state.passwords, email=STAFF, password=STRONG_PASSWORD, name="Ken Mori", role=role
        )
        secret = enrol_totp_at_creation(account, auth.app.state.encryptor, now=auth.clock.now()) if totp else None
        db.commit()
    return secret


def login(auth: AuthHarness, password: str = STRONG_PASSWORD) -> Any:
    return auth.call("POST", LOGIN, ip=DESK, device="desk-pc", json={"email": STAFF, "password": password})


def code(auth: AuthHarness, secret: str) -> str:
    return pyotp.TOTP(secret).at(auth.clock.now())


def sessions(auth: AuthHarness) -> int:
    with auth.app.state.db.session() as db:
        return int(db.execute(select(func.count()).select_from(Session)).scalar_one())


@pytest.mark.parametrize("role", [Role.specialist, Role.support, Role.admin])
def test_staff_step_up_with_totp_on_every_sign_in_never_with_a_mailed_code(auth: AuthHarness, role: Role) -> None:
    secret = staff_account(auth, role, totp=True)
    assert secret
    clock: ManualClock = auth.clock
    for attempt in range(2):  # the second from the device and address the first passed on
        asked = login(auth)
        assert asked.status_code == 401 and asked.json()["code"] == "challenge_required", (attempt, asked.text)
        assert asked.json()["methods"] == ["totp", "recovery_code"]
        challenge_id = asked.json()["challenge_id"]
        mailed = auth.call(
            "POST", COMPLETE, ip=DESK, json={"challenge_id": challenge_id, "method": "email_code", "code": "123456"}
        )
        assert mailed.status_code == 422 and mailed.json()["code"] == "method_not_offered"
        passed = auth.call(
            "POST",
            COMPLETE,
            ip=DESK,
            device="desk-pc",
            json={"challenge_id": challenge_id, "method": "totp", "code": code(auth, secret)},
        )
        assert passed.status_code == 200, passed.text
        clock.advance(seconds=60)  # the next TOTP step: a code is accepted once


def test_a_staff_account_without_a_second_factor_can_only_enrol_one(auth: AuthHarness) -> None:
    staff_account(auth, Role.specialist, totp=False)

    answer = login(auth)

    assert answer.status_code == 403 and answer.json()["code"] == "second_factor_enrolment_required", answer.text
    token = answer.json()["enrolment_token"]
    assert "access_token" not in answer.json() and sessions(auth) == 0, "no session, no access token"
    as_bearer = auth.call("GET", "/api/auth/me", token=token)
    assert as_bearer.status_code == 401, "the enrolment token opens nothing else"
    assert login(auth, "not-the-password").json()["code"] == "invalid_credentials", "a wrong password gets no token"

    enrolment = auth.call("POST", ENROL, ip=DESK, json={"enrolment_token": token})
    assert enrolment.status_code == 200, enrolment.text
    secret = enrolment.json()["secret"]
    wrong = auth.call("POST", CONFIRM, ip=DESK, json={"enrolment_token": token, "code": "000000"})
    assert wrong.status_code == 403 and wrong.json()["code"] == "invalid_code"
    confirmed = auth.call("POST", CONFIRM, ip=DESK, json={"enrolment_token": token, "code": code(auth, secret)})
    assert confirmed.status_code == 200 and len(confirmed.json()["recovery_codes"]) == 10
    spent = auth.call("POST", ENROL, ip=DESK, json={"enrolment_token": token})
    assert spent.status_code == 401 and spent.json()["code"] == "enrolment_invalid"
    assert sessions(auth) == 0

    auth.clock.advance(seconds=60)
    asked = login(auth)
    assert asked.json()["code"] == "challenge_required" and asked.json()["methods"] == ["totp", "recovery_code"]
    passed = auth.call(
        "POST",
        COMPLETE,
        ip=DESK,
        json={"challenge_id": asked.json()["challenge_id"], "method": "totp", "code": code(auth, secret)},
    )
    assert passed.status_code == 200, passed.text


def test_an_enrolment_token_is_refused_when_forged_or_expired(auth: AuthHarness) -> None:
    staff_account(auth, Role.admin, totp=False)
    token = login(auth).json()["enrolment_token"]
    challenge_id = token.split(".")[0]
    forged = auth.call("POST", ENROL, ip=DESK, json={"enrolment_token": f"{challenge_id}.made-up"})
    assert forged.status_code == 401 and forged.json()["code"] == "enrolment_invalid"
    auth.clock.advance(seconds=auth.settings.email_code_seconds + 1)
    expired = auth.call("POST", ENROL, ip=DESK, json={"enrolment_token": token})
    assert expired.status_code == 401 and expired.json()["code"] == "enrolment_invalid"
    with auth.app.state.db.session() as db:
        staff = db.execute(select(Account).where(Account.email == STAFF)).scalar_one()
        assert staff.totp_secret_encrypted is None and not staff.totp_enabled
