"""Staff freezeAccount, unlockAccount and getAccountStatus: who may call them, what they do, and
that each is audited with the staff member and the reason."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from mamori_common.contract import case_number
from services.auth.accounts.models import Account, AccountState, Role
from services.auth.sessions.models import Session
from tests.auth.conftest import AuthHarness
from tests.auth.messaging_support import deliver_event
from tests.support.auth_changes import (
    OWNER,
    events,
    load,
    mail_body,
    make_staff,
    me,
    messages_to,
    open_session,
    outbox_events,
    reset_token_in,
    rows,
)

REASON = "Card-testing pattern seen from this account's sessions"


def _freeze(auth: AuthHarness, account_id: str, token: str | None, **body: object) -> httpx.Response:
    return auth.call(
        "POST", f"/api/auth/staff/accounts/{account_id}/freeze", token=token, json=body or {"reason": REASON}
    )


def _unlock(
    auth: AuthHarness, account_id: str, token: str | None, reason: str = "Owner verified by phone"
) -> httpx.Response:
    return auth.call("POST", f"/api/auth/staff/accounts/{account_id}/unlock", token=token, json={"reason": reason})


def _status(auth: AuthHarness, account_id: str, token: str) -> dict[str, object]:
    response = auth.call("GET", f"/api/auth/staff/accounts/{account_id}", token=token)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_only_specialists_and_admins_freeze_and_it_is_audited(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    customer = open_session(auth, account_id)
    other_customer = open_session(auth, auth.register("ken@example.com", name="Ken Ito"), ip="198.51.100.3")
    _, support = make_staff(auth, Role.support, "support@mamori.example")
    specialist_id, specialist = make_staff(auth, Role.specialist, "specialist@mamori.example")

    assert _freeze(auth, account_id, None).status_code == 401
    for token in (customer.access_token, other_customer.access_token, support):
        refused = _freeze(auth, account_id, token)
        assert refused.status_code == 403
        assert refused.json()["code"] == "forbidden"
    assert load(auth, Account, account_id).state is AccountState.active
    assert outbox_events(auth, "account.frozen") == []

    response = _freeze(auth, account_id, specialist)
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["state"] == "frozen" and status["password_set"] is False
    assert status["reset_opens_at"] is not None

    assert me(auth, customer.access_token).status_code == 401
    [frozen] = list(outbox_events(auth, "account.frozen"))
    assert frozen["payload"]["case_id"] == status["case_id"]
    assert frozen["payload"]["actor"] == f"staff:{specialist_id}"
    compromised = {e["subscriber"]: e["payload"] for e in outbox_events(auth, "session.compromised")}
    assert set(compromised) == {"orders", "verification"}
    assert compromised["orders"]["session_ids"] == [customer.session_id]
    [audit] = events(auth, account_id, "account_frozen")
    assert audit.actor == f"staff:{specialist_id}"
    assert audit.reason == REASON
    assert REASON in mail_body(auth, OWNER, "account_frozen")

    again = _freeze(auth, account_id, specialist)
    assert again.status_code == 409 and again.json()["code"] == "already_frozen"


def test_freezing_an_unknown_account_or_with_a_bad_body_changes_nothing(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    _, specialist = make_staff(auth, Role.specialist, "specialist@mamori.example")
    unknown = _freeze(auth, "0" * 32, specialist)
    assert unknown.status_code == 404 and unknown.json()["code"] == "account_not_found"
    for body in ({}, {"reason": ""}, {"reason": REASON, "state": "closed"}, {"reason": "card 4556 7375 8689 9855"}):
        response = auth.call("POST", f"/api/auth/staff/accounts/{account_id}/freeze", token=specialist, json=body)
        assert response.status_code == 422, body
    assert response.json()["code"] == "card_number_visible"  # a reason is mailed: never a full number
    assert load(auth, Account, account_id).state is AccountState.active
    assert outbox_events(auth, "account.frozen") == []


def test_a_specialist_does_not_act_on_staff_accounts_or_their_own(auth: AuthHarness) -> None:
    specialist_id, specialist = make_staff(auth, Role.specialist, "specialist@mamori.example")
    admin_id, admin = make_staff(auth, Role.admin, "admin@mamori.example")
    assert _freeze(auth, admin_id, specialist).status_code == 403
    assert _freeze(auth, specialist_id, specialist).status_code == 403
    assert load(auth, Account, admin_id).state is AccountState.active
    assert _freeze(auth, specialist_id, admin).status_code == 200


def test_unlock_lifts_a_lock_and_resets_the_failure_counters(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    _, support = make_staff(auth, Role.support, "support@mamori.example")
    specialist_id, specialist = make_staff(auth, Role.specialist, "specialist@mamori.example")
    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        account.locked_until = auth.clock.now().replace(year=auth.clock.now().year + 1)
        account.failure_streak, account.failed_step_ups = 12, 3
        account.lock_case_id = "a" * 32
        db.commit()

    assert _unlock(auth, account_id, support).status_code == 403
    assert _status(auth, account_id, specialist)["state"] == "locked"

    response = _unlock(auth, account_id, specialist)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "active"
    account = load(auth, Account, account_id)
    assert (account.locked_until, account.failure_streak, account.failed_step_ups) == (None, 0, 0)
    [audit] = events(auth, account_id, "account_unlocked")
    assert (audit.actor, audit.reason) == (f"staff:{specialist_id}", "Owner verified by phone")
    assert audit.details["case_id"] == "a" * 32
    assert messages_to(auth, OWNER, "notice")  # nobody is unlocked (or locked) silently

    nothing = _unlock(auth, account_id, specialist)
    assert nothing.status_code == 409 and nothing.json()["code"] == "not_locked"


def test_unlocking_a_frozen_account_opens_the_reset_but_keeps_the_password_invalid(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    _, specialist = make_staff(auth, Role.specialist, "specialist@mamori.example")
    assert _freeze(auth, account_id, specialist).status_code == 200
    auth.call("POST", "/api/auth/password/reset", json={"email": OWNER})
    assert messages_to(auth, OWNER, "password_reset") == []  # cooling down

    response = _unlock(auth, account_id, specialist)
    assert response.status_code == 200
    assert response.json()["state"] == "frozen" and response.json()["password_set"] is False
    auth.clock.advance(seconds=1)
    auth.call("POST", "/api/auth/password/reset", json={"email": OWNER})
    token = reset_token_in(mail_body(auth, OWNER, "password_reset"))
    done = auth.call(
        "POST", "/api/auth/password/reset/confirm", json={"token": token, "new_password": "lantern-over-the-river-4"}
    )
    assert done.status_code == 200
    assert done.json()["recheck_items"] == ["payment_methods", "addresses", "subscriptions"]
    assert load(auth, Account, account_id).state is AccountState.active


def test_account_status_is_for_staff_and_shows_no_secrets(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    customer = open_session(auth, account_id).access_token
    _, support = make_staff(auth, Role.support, "support@mamori.example")

    assert auth.call("GET", f"/api/auth/staff/accounts/{account_id}", token=customer).status_code == 403
    response = auth.call("GET", f"/api/auth/staff/accounts/{account_id}", token=support)
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "active" and body["email"] == "h***@example.com"
    assert not {"password_hash", "totp_secret_encrypted"} & set(body)
    assert "$argon2" not in response.text
    assert auth.call("GET", f"/api/auth/staff/accounts/{'0' * 32}", token=support).status_code == 404
    assert rows(auth, select(Session).where(Session.revoked_at.is_not(None))) == []


def test_a_restriction_survives_a_freeze_the_reset_after_it_and_an_unlock(auth: AuthHarness) -> None:
    """Known defect before the state machine: the restriction was lost once the account was frozen and reset."""
    account_id = auth.register(OWNER)
    _, specialist = make_staff(auth, Role.specialist, "specialist@mamori.example")
    case_id = "9" * 32
    opened = {
        "id": "case-opened-1",
        "type": "case.opened",
        "source": "verification",
        "occurred_at": auth.clock.now().isoformat(),
        "payload": {
            "case_id": case_id,
            "case_number": case_number(case_id),
            "account_id": account_id,
            "kind": "payment_verification",
            "restricts_account": True,
        },
    }
    assert deliver_event(auth.client, auth.app, opened).json()["status"] == "applied"
    assert _status(auth, account_id, specialist)["state"] == "restricted"

    assert _freeze(auth, account_id, specialist).status_code == 200
    frozen = _status(auth, account_id, specialist)
    assert (frozen["state"], frozen["restricting_case_ids"]) == ("frozen", [case_id])
    assert _unlock(auth, account_id, specialist).status_code == 200  # opens the reset at once
    auth.call("POST", "/api/auth/password/reset", json={"email": OWNER})
    token = reset_token_in(mail_body(auth, OWNER, "password_reset"))
    done = auth.call(
        "POST", "/api/auth/password/reset/confirm", json={"token": token, "new_password": "lantern-over-the-river-4"}
    )
    assert done.status_code == 200

    after = _status(auth, account_id, specialist)
    assert (after["state"], after["restricting_case_ids"], after["case_number"]) == (
        "restricted",
        [case_id],
        case_number(case_id),
    )
