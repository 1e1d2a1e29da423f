"""Auth notices an intrusion by itself (issue 16 point 8, story S2), through its API and inbox.

A session from a new device in a new country moves the e-mail address, then orders reports a
gift-card order from it (``order.risk_signals``): auth freezes the account, ends every session,
asks orders to undo that session's orders and verification to open the intrusion case, and mails
the freeze to the OLD address at once. The reset stays held until the owner takes the address back
with the change notice's revert code.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from mamori_common.contract import case_number
from services.auth.accounts.models import Account, AccountState
from services.auth.intrusion.models import WatchedSession
from services.auth.sessions.models import Session
from tests.auth.conftest import AuthHarness
from tests.auth.messaging_support import deliver_event
from tests.support.auth_changes import change_email, load, mail_body, me, messages_to, outbox_events, revert_code_in
from tests.support.auth_signin import EMAIL, LAPTOP, complete, login, wait_for_code

JAPAN, ABROAD = "133.242.0.1", "8.8.8.8"
THIEF_PHONE = "thief-phone-0001"
THIEF_MAIL = "owner@intruder.example"


def _signals(account_id: str, session_id: str, *signals: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or uuid.uuid4().hex,
        "type": "order.risk_signals",
        "source": "orders",
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {
            "account_id": account_id,
            "session_id": session_id,
            "order_id": uuid.uuid4().hex,
            "signals": list(signals),
        },
    }


def _intruder_from_abroad(auth: AuthHarness) -> tuple[str, str]:
    """The owner's baseline in Japan, then a sign-in from a new phone abroad; (account, token)."""
    account_id = auth.register(EMAIL)
    assert login(auth, ip=JAPAN, device=LAPTOP).status_code == 200
    challenged = login(auth, ip=ABROAD, device=THIEF_PHONE)
    assert challenged.json()["code"] == "challenge_required"
    code = wait_for_code(auth, "sign-in code", 1)  # the intruder has the mailbox too (S5)
    signed_in = complete(auth, challenged.json()["challenge_id"], code, ip=ABROAD, device=THIEF_PHONE)
    assert signed_in.status_code == 200, signed_in.text
    return account_id, str(signed_in.json()["access_token"])


def _intruder_session(auth: AuthHarness) -> str:
    with auth.app.state.db.session() as db:
        return str(db.execute(select(Session.id).where(Session.ip == ABROAD)).scalar_one())


def test_a_new_address_then_a_gift_card_from_somewhere_new_freezes_and_tells_the_old_address(
    auth: AuthHarness,
) -> None:
    account_id, token = _intruder_from_abroad(auth)
    session_id = _intruder_session(auth)
    watched = load(auth, WatchedSession, session_id)
    assert (watched.new_device, watched.new_country, watched.contact_before) == (True, True, EMAIL)

    assert change_email(auth, token, THIEF_MAIL, ip=ABROAD).status_code == 200
    assert load(auth, Account, account_id).state is AccountState.active, "one move alone is an owner's trip"

    delivered = deliver_event(auth.client, auth.app, _signals(account_id, session_id, "gift_card_order"))

    assert delivered.status_code in (200, 202), delivered.text
    account = load(auth, Account, account_id)
    assert account.state is AccountState.frozen and account.password_hash is None
    assert account.reset_opens_at is None, "the address moved: no reset may go to the intruder's"
    case_id = account.state_case_id
    assert me(auth, token).status_code == 401
    [frozen] = outbox_events(auth, "account.frozen")
    assert (frozen["payload"]["case_id"], frozen["payload"]["kind"], frozen["payload"]["actor"]) == (
        case_id,
        "intrusion",
        "system",
    )
    [to_orders] = [event for event in outbox_events(auth, "session.compromised") if event["subscriber"] == "orders"]
    assert session_id in to_orders["payload"]["suspicious_session_ids"]

    # The owner hears at once, at the address the intruder took away, with what to do.
    told = mail_body(auth, EMAIL, "account_frozen")
    assert case_number(case_id) in told
    assert "a new device" in told and "a gift card order" in told and "revert code" in told
    assert messages_to(auth, THIEF_MAIL, "account_frozen") == []

    # The change notice at the old address takes the address back; the reset then opens.
    reverted = auth.call(
        "POST",
        "/api/auth/changes/revert",
        ip=JAPAN,
        json={"code": revert_code_in(mail_body(auth, EMAIL, "change_notice"))},
    )
    assert reverted.status_code == 200, reverted.text
    account = load(auth, Account, account_id)
    assert account.email == EMAIL and account.reset_opens_at is not None


def test_the_same_signals_again_or_from_a_session_with_nothing_new_change_nothing(auth: AuthHarness) -> None:
    account_id, _ = _intruder_from_abroad(auth)
    session_id = _intruder_session(auth)
    envelope = _signals(account_id, session_id, "new_tender", "gift_card_order")
    assert deliver_event(auth.client, auth.app, envelope).status_code in (200, 202)
    assert load(auth, Account, account_id).state is AccountState.frozen
    assert deliver_event(auth.client, auth.app, envelope).status_code in (200, 202)
    assert len(outbox_events(auth, "account.frozen")) == 1, "applied once"

    with auth.app.state.db.session() as db:
        home = db.execute(select(Session.id).where(Session.ip == JAPAN)).scalars().first()
    other = _signals(account_id, str(home), "new_tender", "gift_card_order", "top_up_order")
    assert deliver_event(auth.client, auth.app, other).status_code in (200, 202)
    assert len(outbox_events(auth, "account.frozen")) == 1, "the owner's own session is never judged"


def test_a_malformed_risk_signals_event_is_refused(auth: AuthHarness) -> None:
    account_id, _ = _intruder_from_abroad(auth)
    envelope = _signals(account_id, _intruder_session(auth), "gift_card_order")
    envelope["payload"]["signals"] = ["steal_everything"]

    refused = deliver_event(auth.client, auth.app, envelope)

    assert refused.status_code == 422
    assert load(auth, Account, account_id).state is AccountState.active
