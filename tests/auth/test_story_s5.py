"""Story S5, "The e-mail address was changed by someone else", end to end through the HTTP API.

An intruder in the account changes its e-mail; the old address gets a notice with a revert code;
the owner reverts from that mail without signing in, which restores the address and freezes the
account (password invalidated, every session ended, the orders and verification services told);
a reset is refused for the cool-down (the owner is told when it opens) and works after it; the
owner signs in again and is shown what to re-check. The clock is moved by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from mamori_common.contract import case_number
from services.auth.accounts.models import Account, AccountState
from services.auth.messages.templates import format_time
from tests.auth.conftest import STRONG_PASSWORD, AuthHarness
from tests.support.auth_changes import (
    OWNER,
    events,
    load,
    mail_body,
    me,
    messages_to,
    open_session,
    outbox_events,
    reset_token_in,
    revert_code_in,
    six_digit_code,
)

OWNER_IP, OWNER_DEVICE = "203.0.113.10", "owner-laptop"
INTRUDER_IP = "198.51.100.66"
INTRUDER_MAIL = "new-owner@intruder.example"
NEW_PASSWORD = "lantern-over-the-river-4"


def _login(auth: AuthHarness, password: str, email_address: str = OWNER) -> httpx.Response:
    return auth.call(
        "POST", "/api/auth/login", ip=OWNER_IP, device=OWNER_DEVICE, json={"email": email_address, "password": password}
    )


def test_s5_email_changed_by_someone_else_is_reverted_frozen_and_recovered(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    signed_in = _login(auth, STRONG_PASSWORD)
    assert signed_in.status_code == 200, signed_in.text
    owner_token = signed_in.json()["access_token"]

    # An intruder holds a session (how they got in is story S1/S2's business) and moves the e-mail.
    auth.clock.advance(days=2)
    intruder = open_session(auth, account_id, ip=INTRUDER_IP)
    started = auth.call(
        "POST", "/api/auth/email/change", ip=INTRUDER_IP, token=intruder.access_token, json={"new_email": INTRUDER_MAIL}
    )
    assert started.status_code == 202
    code = six_digit_code(mail_body(auth, INTRUDER_MAIL, "email_change_code"))
    confirmed = auth.call(
        "POST",
        "/api/auth/email/confirm",
        ip=INTRUDER_IP,
        token=intruder.access_token,
        json={"challenge_id": started.json()["challenge_id"], "code": code},
    )
    assert confirmed.status_code == 200
    changed_at = auth.clock.now()
    assert _login(auth, STRONG_PASSWORD).status_code == 401  # the owner's address no longer signs in

    # The old address is told, with a code that says "this was not me".
    notice = mail_body(auth, OWNER, "change_notice")
    assert "e-mail address" in notice
    revert_code = revert_code_in(notice)

    # The owner reverts from the mail, an hour later, without signing in.
    auth.clock.advance(hours=1)
    reverted = auth.call("POST", "/api/auth/changes/revert", ip=OWNER_IP, json={"code": revert_code})
    assert reverted.status_code == 200, reverted.text
    result = reverted.json()
    frozen_at = auth.clock.now()
    opens_at = frozen_at + timedelta(seconds=auth.settings.reset_cooldown_after_freeze_seconds)
    assert result["status"] == "reverted" and result["email_restored"] is True
    assert datetime.fromisoformat(result["reset_opens_at"].replace("Z", "+00:00")) == opens_at
    case_id = result["case_id"]

    # Frozen: the address is back, the password is dead, every session is over.
    account = load(auth, Account, account_id)
    assert (account.email, account.state, account.password_hash) == (OWNER, AccountState.frozen, None)
    assert account.state_case_id == case_id
    for token in (intruder.access_token, owner_token):
        refused = me(auth, token)
        assert refused.status_code == 401
    old_password = _login(auth, STRONG_PASSWORD)
    assert old_password.status_code == 401
    assert old_password.json()["code"] == "invalid_credentials"
    assert _login(auth, STRONG_PASSWORD, INTRUDER_MAIL).json()["code"] == "invalid_credentials"

    # Orders (hold what those sessions ordered) and verification (open the intrusion case) are told.
    compromised = {e["subscriber"]: e["payload"] for e in outbox_events(auth, "session.compromised")}
    assert set(compromised) == {"orders", "verification"}
    payload = compromised["orders"]
    assert payload["case_id"] == case_id and payload["account_id"] == account_id
    assert intruder.session_id in payload["session_ids"]
    assert len(payload["session_ids"]) == 2  # the owner's own session ended too
    assert payload["suspicious_session_ids"] == [intruder.session_id]
    assert payload["window"]["from"] <= changed_at.isoformat()
    assert payload["window"]["to"] == frozen_at.isoformat()
    [frozen_event] = outbox_events(auth, "account.frozen")
    assert frozen_event["subscriber"] == "verification"
    assert (frozen_event["payload"]["case_id"], frozen_event["payload"]["kind"]) == (case_id, "intrusion")
    frozen_mail = mail_body(auth, OWNER, "account_frozen")
    assert case_number(case_id) in frozen_mail and case_id not in frozen_mail
    assert format_time(opens_at, "en") in frozen_mail and "UTC" not in frozen_mail

    # During the cool-down a reset mails no code, but tells the owner exactly when it opens.
    auth.clock.advance(hours=4, minutes=59)
    asked = auth.call("POST", "/api/auth/password/reset", ip=OWNER_IP, json={"email": OWNER})
    assert asked.status_code == 202
    assert messages_to(auth, OWNER, "password_reset") == []
    assert format_time(opens_at, "en") in mail_body(auth, OWNER, "reset_cooldown")
    unknown = auth.call("POST", "/api/auth/password/reset", ip=OWNER_IP, json={"email": "nobody@example.com"})
    assert unknown.json() == asked.json()  # the caller learns nothing about the account

    # After the cool-down, a normal reset: a code that signs nobody in.
    auth.clock.advance(minutes=2)
    assert auth.call("POST", "/api/auth/password/reset", ip=OWNER_IP, json={"email": OWNER}).status_code == 202
    token = reset_token_in(mail_body(auth, OWNER, "password_reset"))
    done = auth.call(
        "POST", "/api/auth/password/reset/confirm", ip=OWNER_IP, json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 200, done.text
    assert "access_token" not in done.json()
    assert done.json()["recheck_items"] == ["payment_methods", "addresses", "subscriptions"]
    assert "payment methods, addresses, subscriptions" in mail_body(auth, OWNER, "password_reset_done")

    # The owner is back in, and sees what to re-check.
    back = _login(auth, NEW_PASSWORD)
    assert back.status_code == 200, back.text
    profile = me(auth, back.json()["access_token"]).json()
    assert profile["state"] == "active" and profile["email"] == OWNER
    assert profile["recheck_items"] == ["payment_methods", "addresses", "subscriptions"]

    # Nothing went to the intruder's mailbox after the revert, and the whole path is in the audit trail.
    assert len(messages_to(auth, INTRUDER_MAIL, "email_change_code")) == 1
    assert messages_to(auth, INTRUDER_MAIL, "password_reset") == []
    for kind in ("email_changed", "change_notice_sent", "change_reverted", "account_frozen", "password_reset"):
        assert events(auth, account_id, kind), kind
    assert [e.details["outcome"] for e in events(auth, account_id, "password_reset_requested")] == [
        "cooling_down",
        "token_sent",
    ]
    assert events(auth, account_id, "email_changed")[0].ip == INTRUDER_IP
    assert events(auth, account_id, "change_reverted")[0].ip == OWNER_IP
