"""The new-sign-in notice's "this was not me" code (issue 16 point 8, story S2), through the API.

Someone with the password (and, here, the mailbox's sign-in code) signs in from a new device and
changes the password, so the owner can no longer sign in. The notice of that sign-in, at the
owner's address, carries a code that works without signing in: it freezes the account, ends every
session (the intruder's too) and tells orders to undo that session's orders.
"""

from __future__ import annotations

from sqlalchemy import select

from services.auth.accounts.models import Account, AccountState
from services.auth.sessions.models import Session
from tests.auth.conftest import STRONG_PASSWORD, AuthHarness
from tests.support.auth_changes import load, me, outbox_events, revert_code_in
from tests.support.auth_signin import ATTACKER, EMAIL, complete, login, owner_signs_in_at_home, wait_for_code
from tests.support.servers import wait_until

THIEF_PHONE = "thief-phone-0001"
INTRUDER_PASSWORD = "the-intruder-chose-this-1"


def _intruder_signs_in(auth: AuthHarness) -> dict[str, str]:
    challenged = login(auth, ip=ATTACKER, device=THIEF_PHONE)
    assert challenged.json()["code"] == "challenge_required"
    code = wait_for_code(auth, "sign-in code", 1)
    signed_in = complete(auth, challenged.json()["challenge_id"], code, ip=ATTACKER, device=THIEF_PHONE)
    assert signed_in.status_code == 200, signed_in.text
    with auth.app.state.db.session() as db:
        session_id = db.execute(select(Session.id).where(Session.ip == ATTACKER)).scalar_one()
    return {**signed_in.json(), "session_id": session_id}


def test_the_new_sign_in_notice_carries_a_code_that_freezes_without_signing_in(auth: AuthHarness) -> None:
    owner_token = owner_signs_in_at_home(auth)
    intruder = _intruder_signs_in(auth)
    notice = wait_until(
        lambda: next((mail for mail in auth.mails(EMAIL) if "somewhere new" in mail.subject), None),
        timeout=5,
        what="the new-sign-in notice",
    )
    assert "This was not me" in notice.body and "no sign-in needed" in notice.body
    code = revert_code_in(notice.body)

    changed = auth.call(
        "POST",
        "/api/auth/password/change",
        ip=ATTACKER,
        device=THIEF_PHONE,
        token=intruder["access_token"],
        json={"current_password": STRONG_PASSWORD, "new_password": INTRUDER_PASSWORD},
    )
    assert changed.status_code == 200, changed.text
    assert login(auth).json()["code"] == "invalid_credentials", "the owner is shut out"

    reverted = auth.call("POST", "/api/auth/changes/revert", ip="192.0.2.77", json={"code": code})

    assert reverted.status_code == 200, reverted.text
    result = reverted.json()
    assert result["reverted"] == ["sign_in", "password"], "the sign-in and what followed it"
    account = load(auth, Account, _account_id(auth))
    assert account.state_case_id == result["case_id"]
    assert account.state is AccountState.frozen and account.password_hash is None
    for token in (intruder["access_token"], owner_token):
        assert me(auth, token).status_code == 401
    assert login(auth, INTRUDER_PASSWORD, ip=ATTACKER, device=THIEF_PHONE).json()["code"] == "invalid_credentials"
    [to_orders] = [event for event in outbox_events(auth, "session.compromised") if event["subscriber"] == "orders"]
    assert intruder["session_id"] in to_orders["payload"]["suspicious_session_ids"], "orders holds that session's"
    assert to_orders["payload"]["case_id"] == result["case_id"]

    again = auth.call("POST", "/api/auth/changes/revert", ip="192.0.2.77", json={"code": code})
    assert again.status_code == 410 and again.json()["code"] == "revert_code_used"


def test_a_sign_in_from_a_known_device_sends_no_notice_and_no_code(auth: AuthHarness) -> None:
    owner_signs_in_at_home(auth)
    assert login(auth).status_code == 200

    assert not [mail for mail in auth.mails(EMAIL) if "somewhere new" in mail.subject]


def _account_id(auth: AuthHarness) -> str:
    with auth.app.state.db.session() as db:
        return str(db.execute(select(Account.id).where(Account.email == EMAIL)).scalar_one())
