"""Account changes and their revert (story S5): changeEmail, confirmEmailChange, changePassword,
revertChange, acknowledgeRecheck, and ``notify_change`` as the TOTP domain calls it.

The helpers at the top are shared by the reset, staff and S5 story tests.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from mamori_common.contract import case_number
from services.auth.accounts.models import Account, AccountState
from services.auth.accounts.service import add_restriction
from services.auth.changes.flows import notify_change
from services.auth.changes.models import AccountChange, ChangeKind
from services.auth.env import AuthEnv
from services.auth.request_context import RequestContext
from services.auth.sessions.models import Session
from services.auth.totp.models import RecoveryCode
from tests.auth.conftest import STRONG_PASSWORD, AuthHarness
from tests.support.auth_changes import (  # noqa: F401  (helpers shared with other test modules)
    NEW_ADDRESS,
    OWNER,
    RESET_TOKEN,
    REVERT_CODE,
    change_email,
    events,
    load,
    mail_body,
    make_staff,
    me,
    messages_to,
    open_session,
    outbox_events,
    reset_token_in,
    revert_code_in,
    rows,
    six_digit_code,
)


def test_email_change_needs_the_code_from_the_new_address_and_notifies_the_old_one(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    token = open_session(auth, account_id).access_token

    started = auth.call("POST", "/api/auth/email/change", token=token, json={"new_email": NEW_ADDRESS})
    assert started.status_code == 202, started.text
    assert started.json()["sent_to"] == "h***@example.org"
    code = six_digit_code(mail_body(auth, NEW_ADDRESS, "email_change_code"))
    wrong = "000000" if code != "000000" else "111111"

    refused = auth.call(
        "POST",
        "/api/auth/email/confirm",
        token=token,
        json={"challenge_id": started.json()["challenge_id"], "code": wrong},
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "invalid_code"
    assert refused.json()["attempts_left"] == 4
    assert me(auth, token).json()["email"] == OWNER

    confirmed = auth.call(
        "POST",
        "/api/auth/email/confirm",
        token=token,
        json={"challenge_id": started.json()["challenge_id"], "code": code},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() == {"email": NEW_ADDRESS, "notice_sent_to": "h***@example.com"}
    assert me(auth, token).json()["email"] == NEW_ADDRESS

    notice = mail_body(auth, OWNER, "change_notice")
    code_in_notice = revert_code_in(notice)
    assert "e-mail address" in notice and "30 days" in notice
    # The message centre shows the notice, but never the revert code itself.
    [filed] = messages_to(auth, OWNER, "change_notice")
    assert code_in_notice not in filed.body
    # The same code confirms only once.
    again = auth.call(
        "POST",
        "/api/auth/email/confirm",
        token=token,
        json={"challenge_id": started.json()["challenge_id"], "code": code},
    )
    assert again.status_code == 410 and again.json()["code"] == "code_used"
    assert [e.details["change"] for e in events(auth, account_id, "change_notice_sent")] == ["email"]


def test_email_change_to_an_address_in_use_is_refused_and_mails_nothing(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    auth.register("taken@example.com", name="Ken Ito")
    token = open_session(auth, account_id).access_token

    response = auth.call("POST", "/api/auth/email/change", token=token, json={"new_email": "Taken@Example.com"})
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
    assert messages_to(auth, "taken@example.com", "email_change_code") == []

    same = auth.call("POST", "/api/auth/email/change", token=token, json={"new_email": OWNER})
    assert same.status_code == 422 and same.json()["code"] == "email_unchanged"


def test_a_sensitive_change_needs_a_recent_sign_in(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    pair = open_session(auth, account_id)
    # The session's access token is still valid, but its sign-in was eleven minutes ago.
    with auth.app.state.db.session() as db:
        session = db.get(Session, pair.session_id)
        session.authenticated_at = auth.clock.now() - timedelta(minutes=11)
        db.commit()
    token = pair.access_token
    assert me(auth, token).status_code == 200

    email = auth.call("POST", "/api/auth/email/change", token=token, json={"new_email": NEW_ADDRESS})
    assert email.status_code == 401
    assert email.json()["code"] == "reauthentication_required"
    password = auth.call(
        "POST",
        "/api/auth/password/change",
        token=token,
        json={"current_password": STRONG_PASSWORD, "new_password": "a-quite-new-passphrase-9"},
    )
    assert password.status_code == 401
    assert password.json()["code"] == "reauthentication_required"
    assert messages_to(auth, NEW_ADDRESS, "email_change_code") == []
    assert rows(auth, select(AccountChange)) == []


def test_another_accounts_email_challenge_cannot_be_confirmed(auth: AuthHarness) -> None:
    victim_id = auth.register(OWNER)
    other_id = auth.register("ken@example.com", name="Ken Ito")
    victim = open_session(auth, victim_id).access_token
    other = open_session(auth, other_id, ip="198.51.100.7").access_token
    started = auth.call("POST", "/api/auth/email/change", token=victim, json={"new_email": NEW_ADDRESS})
    code = six_digit_code(mail_body(auth, NEW_ADDRESS, "email_change_code"))

    response = auth.call(
        "POST",
        "/api/auth/email/confirm",
        token=other,
        ip="198.51.100.7",
        json={"challenge_id": started.json()["challenge_id"], "code": code},
    )
    assert response.status_code == 404
    assert response.json()["code"] == "challenge_not_found"
    assert me(auth, victim).json()["email"] == OWNER
    assert me(auth, other).json()["email"] == "ken@example.com"


def test_bad_bodies_get_problems_and_change_nothing(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    token = open_session(auth, account_id).access_token
    cases = [
        ("/api/auth/email/change", {"new_email": "not-an-address"}, 422),
        ("/api/auth/email/change", {"new_email": NEW_ADDRESS, "admin": True}, 422),
        ("/api/auth/email/confirm", {"challenge_id": "x"}, 422),
        ("/api/auth/password/change", {"new_password": "a-quite-new-passphrase-9"}, 422),
        ("/api/auth/changes/revert", {}, 422),
        ("/api/auth/changes/revert", {"code": "x" * 65}, 422),
        ("/api/auth/password/reset/confirm", {"token": "abc"}, 422),
    ]
    for path, body, status in cases:
        response = auth.call("POST", path, token=token, json=body)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    broken = auth.call(
        "POST",
        "/api/auth/email/change",
        token=token,
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "malformed_body"
    assert me(auth, token).json()["email"] == OWNER
    assert rows(auth, select(AccountChange)) == []


def test_a_restricted_account_cannot_change_its_contact_details(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    token = open_session(auth, account_id).access_token
    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        add_restriction(db, account, case_id="c" * 32, kind="payment_verification", reason="", now=auth.clock.now())
        db.commit()

    response = auth.call("POST", "/api/auth/email/change", token=token, json={"new_email": NEW_ADDRESS})
    assert response.status_code == 403
    assert response.json()["code"] == "account_restricted"
    assert response.json()["case_id"] == "c" * 32
    assert response.json()["case_number"] == case_number("c" * 32)
    assert messages_to(auth, NEW_ADDRESS, "email_change_code") == []


# -- changePassword -----------------------------------------------------------------------------


def test_password_change_notifies_with_a_revert_code_and_keeps_other_sessions(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    here = open_session(auth, account_id).access_token
    elsewhere = open_session(auth, account_id, ip="198.51.100.9").access_token

    response = auth.call(
        "POST",
        "/api/auth/password/change",
        token=here,
        json={"current_password": STRONG_PASSWORD, "new_password": "a-quite-new-passphrase-9"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "password_changed", "sessions_ended": 0}
    assert me(auth, elsewhere).status_code == 200
    account = load(auth, Account, account_id)
    assert auth.app.state.passwords.verify(account.password_hash, "a-quite-new-passphrase-9").ok

    notice = mail_body(auth, OWNER, "change_notice")
    assert "password" in notice
    revert_code_in(notice)
    [change] = rows(auth, select(AccountChange))
    assert change.kind is ChangeKind.password
    assert change.old_value == {} and change.new_value == {}  # no password, no hash, is ever kept here


def test_password_change_can_end_the_other_sessions(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    here = open_session(auth, account_id).access_token
    elsewhere = open_session(auth, account_id, ip="198.51.100.9").access_token

    response = auth.call(
        "POST",
        "/api/auth/password/change",
        token=here,
        json={
            "current_password": STRONG_PASSWORD,
            "new_password": "a-quite-new-passphrase-9",
            "end_other_sessions": True,
        },
    )
    assert response.json()["sessions_ended"] == 1
    assert me(auth, elsewhere).status_code == 401
    assert me(auth, here).status_code == 200


def test_wrong_current_passwords_are_refused_then_throttled(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    token = open_session(auth, account_id).access_token
    body = {"current_password": "not-the-password-1", "new_password": "a-quite-new-passphrase-9"}
    for _ in range(auth.settings.password_change_failures_per_window):
        response = auth.call("POST", "/api/auth/password/change", token=token, json=body)
        assert response.status_code == 403
        assert response.json()["code"] == "wrong_password"
    throttled = auth.call(
        "POST", "/api/auth/password/change", token=token, json={**body, "current_password": STRONG_PASSWORD}
    )
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    weak = auth.call(
        "POST",
        "/api/auth/password/change",
        token=token,
        json={"current_password": STRONG_PASSWORD, "new_password": "password"},
    )
    assert weak.status_code == 429
    account = load(auth, Account, account_id)
    assert auth.app.state.passwords.verify(account.password_hash, STRONG_PASSWORD).ok
    assert rows(auth, select(AccountChange)) == []


# -- revertChange -------------------------------------------------------------------------------


def _changed_email(auth: AuthHarness) -> tuple[str, str, str]:
    """An account whose e-mail was changed; returns (account id, access token, revert code)."""
    account_id = auth.register(OWNER)
    token = open_session(auth, account_id).access_token
    assert change_email(auth, token).status_code == 200
    return account_id, token, revert_code_in(mail_body(auth, OWNER, "change_notice"))


def test_a_revert_code_works_once(auth: AuthHarness) -> None:
    account_id, _, code = _changed_email(auth)
    first = auth.call("POST", "/api/auth/changes/revert", ip="192.0.2.50", json={"code": code.lower()})
    assert first.status_code == 200, first.text
    case_id = first.json()["case_id"]

    second = auth.call("POST", "/api/auth/changes/revert", ip="192.0.2.50", json={"code": code})
    assert second.status_code == 410
    assert second.json()["code"] == "revert_code_used"
    account = load(auth, Account, account_id)
    assert account.state_case_id == case_id  # no second freeze, no second case
    assert len(outbox_events(auth, "account.frozen")) == 1


def test_a_revert_code_expires_after_30_days(auth: AuthHarness) -> None:
    account_id, _token, code = _changed_email(auth)
    auth.clock.advance(days=31)
    response = auth.call("POST", "/api/auth/changes/revert", json={"code": code})
    assert response.status_code == 410
    assert response.json()["code"] == "revert_code_expired"
    account = load(auth, Account, account_id)
    assert account.state is AccountState.active
    assert account.email == NEW_ADDRESS
    assert outbox_events(auth, "account.frozen") == []


def test_an_unknown_revert_code_changes_nothing_and_guessing_is_throttled_per_address(auth: AuthHarness) -> None:
    _account_id, token, code = _changed_email(auth)
    for _ in range(auth.settings.revert_attempts_per_ip):
        response = auth.call("POST", "/api/auth/changes/revert", ip="192.0.2.66", json={"code": "ABCD-EFGH-JKMN-PQRS"})
        assert response.status_code == 404
        assert response.json()["code"] == "unknown_revert_code"
    throttled = auth.call("POST", "/api/auth/changes/revert", ip="192.0.2.66", json={"code": code})
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert me(auth, token).json()["email"] == NEW_ADDRESS  # still nothing changed
    # The owner, from another address, is not held back by the guesser.
    assert auth.call("POST", "/api/auth/changes/revert", ip="192.0.2.67", json={"code": code}).status_code == 200


def test_a_revert_also_undoes_the_changes_made_after_it(auth: AuthHarness) -> None:
    account_id, token, email_code = _changed_email(auth)
    auth.clock.advance(minutes=1)
    changed = auth.call(
        "POST",
        "/api/auth/password/change",
        token=token,
        json={"current_password": STRONG_PASSWORD, "new_password": "a-quite-new-passphrase-9"},
    )
    assert changed.status_code == 200
    password_code = revert_code_in(mail_body(auth, NEW_ADDRESS, "change_notice"))

    response = auth.call("POST", "/api/auth/changes/revert", json={"code": email_code})
    assert response.status_code == 200
    assert response.json()["reverted"] == ["email", "password"]
    assert load(auth, Account, account_id).email == OWNER
    later = auth.call("POST", "/api/auth/changes/revert", json={"code": password_code})
    assert later.status_code == 410  # already undone with the first one
    assert len(events(auth, account_id, "change_reverted")) == 2


def test_reverting_a_totp_change_turns_off_the_intruders_authenticator(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    session = open_session(auth, account_id)
    encryptor = auth.app.state.encryptor
    with auth.app.state.db.session() as db:  # as totp/flows.py does when TOTP is confirmed
        account = db.get(Account, account_id)
        account.totp_secret_encrypted = encryptor.encrypt("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
        account.totp_enabled_at = auth.clock.now()
        db.add(RecoveryCode(account_id=account_id, code_hash="0" * 64, created_at=auth.clock.now()))
        notify_change(
            db,
            AuthEnv.of(auth.app),
            account,
            ChangeKind.totp,
            old_value={"totp_secret_encrypted": None},
            new_value={"totp_enabled": True},
            context=RequestContext(ip="192.0.2.99"),
            session_id=session.session_id,
            now=auth.clock.now(),
        )
        db.commit()
    notice = mail_body(auth, OWNER, "change_notice")
    assert "two-step verification" in notice

    response = auth.call("POST", "/api/auth/changes/revert", json={"code": revert_code_in(notice)})
    assert response.status_code == 200
    account = load(auth, Account, account_id)
    assert account.totp_enabled_at is None and account.totp_secret_encrypted is None
    assert rows(auth, select(RecoveryCode)) == []
    assert account.state is AccountState.frozen


def test_an_old_address_registered_meanwhile_still_freezes_and_holds_the_reset(auth: AuthHarness) -> None:
    account_id, token, code = _changed_email(auth)
    squatter = auth.register(OWNER, name="Someone Else")  # the old address, now free, taken by another account

    response = auth.call("POST", "/api/auth/changes/revert", json={"code": code})
    assert response.status_code == 200
    assert response.json()["email_restored"] is False
    assert response.json()["reset_opens_at"] is None
    account = load(auth, Account, account_id)
    assert account.state is AccountState.frozen and account.email == NEW_ADDRESS
    assert load(auth, Account, squatter).email == OWNER
    assert me(auth, token).status_code == 401
    # The freeze mail goes to the address that reported it; a reset stays shut until staff open it.
    assert messages_to(auth, OWNER, "account_frozen")
    auth.clock.advance(hours=6)
    assert auth.call("POST", "/api/auth/password/reset", json={"email": NEW_ADDRESS}).status_code == 202
    assert messages_to(auth, NEW_ADDRESS, "password_reset") == []
    assert messages_to(auth, NEW_ADDRESS, "reset_held")


# -- acknowledgeRecheck -------------------------------------------------------------------------


def test_recheck_items_can_be_ticked_off(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    token = open_session(auth, account_id).access_token
    with auth.app.state.db.session() as db:
        db.get(Account, account_id).recheck_items = json.dumps(["payment_methods", "addresses", "subscriptions"])
        db.commit()

    one = auth.call("POST", "/api/auth/recheck/acknowledge", token=token, json={"items": ["addresses"]})
    assert one.status_code == 200
    assert one.json() == {"recheck_items": ["payment_methods", "subscriptions"]}
    assert me(auth, token).json()["recheck_items"] == ["payment_methods", "subscriptions"]
    unknown = auth.call("POST", "/api/auth/recheck/acknowledge", token=token, json={"items": ["passwords"]})
    assert unknown.status_code == 422
    rest = auth.call("POST", "/api/auth/recheck/acknowledge", token=token)
    assert rest.json() == {"recheck_items": []}
    assert me(auth, token).json()["recheck_items"] == []
    assert auth.call("POST", "/api/auth/recheck/acknowledge").status_code == 401
