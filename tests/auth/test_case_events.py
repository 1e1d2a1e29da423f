"""Auth's side of the case contract, through its HTTP API: verification's case events restrict,
lift and close; orders' step-up request; the account-standing call; case numbers in what customers read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from mamori_common import contract
from mamori_common.contract import case_number
from services.auth.audit.models import SecurityEvent
from services.auth.sessions.models import Session
from tests.auth.conftest import AuthHarness
from tests.auth.messaging_support import deliver_event, make_customer, sign_in
from tests.support.service_keys import service_token

CASE = "c0ffee" + "0" * 26
OTHER_CASE = "beef" + "1" * 28


def envelope(
    event_type: str, payload: dict[str, Any], *, source: str = "verification", event_id: str | None = None
) -> dict[str, Any]:
    return {
        "id": event_id or uuid.uuid4().hex,
        "type": event_type,
        "source": source,
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": payload,
    }


def case_payload(account_id: str, case_id: str = CASE, **extra: Any) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "case_number": case_number(case_id),
        "account_id": account_id,
        "kind": "payment_verification",
        **extra,
    }


def send(auth: AuthHarness, event_type: str, payload: dict[str, Any], **options: Any) -> Any:
    response = deliver_event(auth.client, auth.app, envelope(event_type, payload, **options))
    assert response.status_code == 200, response.text
    return response.json()


def opened(auth: AuthHarness, account_id: str, case_id: str = CASE, **options: Any) -> Any:
    return send(
        auth,
        contract.CASE_OPENED,
        case_payload(account_id, case_id, restricts_account=True, reason="Gift card over 100,000 yen"),
        **options,
    )


def me(auth: AuthHarness, token: str) -> dict[str, Any]:
    response = auth.call("GET", "/api/auth/me", token=token)
    assert response.status_code == 200, response.text
    return dict(response.json())


def standing(auth: AuthHarness, account_id: str, caller: str = "orders") -> Any:
    token = service_token(auth.app, caller)
    return auth.client.get(f"/internal/accounts/{account_id}/standing", headers={"authorization": f"Bearer {token}"})


def audit_kinds(auth: AuthHarness, account_id: str) -> list[str]:
    with auth.app.state.db.session() as db:
        return list(
            db.execute(
                select(SecurityEvent.kind).where(SecurityEvent.account_id == account_id).order_by(SecurityEvent.id)
            ).scalars()
        )


def test_an_opened_case_restricts_the_account_which_still_signs_in_and_reads(auth: AuthHarness) -> None:
    account_id = make_customer(auth.app, "hana@example.com")
    token = sign_in(auth.app, account_id)
    assert standing(auth, account_id).json()["can_order"] is True

    assert opened(auth, account_id)["status"] == "applied"

    profile = me(auth, token)
    assert profile["state"] == "restricted"
    assert profile["case_number"] == case_number(CASE)
    assert profile["restrictions"] == [
        {
            "case_id": CASE,
            "case_number": case_number(CASE),
            "kind": "payment_verification",
            "reason": "Gift card over 100,000 yen",
        }
    ]
    assert "order" not in profile["may"] and "upload" in profile["may"] and "see_case" in profile["may"]
    assert auth.call("GET", "/api/auth/messages", token=token).status_code == 200
    assert auth.call("GET", "/api/auth/security-events", token=token).status_code == 200

    refused = auth.call("POST", "/api/auth/email/change", token=token, json={"new_email": "new@example.org"})
    assert refused.status_code == 403
    body = refused.json()
    assert (body["code"], body["case_id"], body["case_number"]) == ("account_restricted", CASE, case_number(CASE))

    answer = standing(auth, account_id).json()
    assert answer == {
        "account_id": account_id,
        "state": "restricted",
        "can_order": False,
        "can_change_contact": False,
        "restricting_case_ids": [CASE],
        "name": "Hana Sato",
        "time_zone": "Asia/Tokyo",
    }
    assert "account_restricted" in audit_kinds(auth, account_id)


def test_a_case_that_does_not_restrict_changes_nothing(auth: AuthHarness) -> None:
    account_id = make_customer(auth.app, "hana@example.com")
    send(auth, contract.CASE_OPENED, case_payload(account_id, restricts_account=False))
    assert standing(auth, account_id).json()["state"] == "active"


def test_approval_or_closing_lifts_only_that_cases_restriction(auth: AuthHarness) -> None:
    account_id = make_customer(auth.app, "hana@example.com")
    opened(auth, account_id, CASE)
    opened(auth, account_id, OTHER_CASE)

    send(auth, contract.CASE_APPROVED, case_payload(account_id, CASE))
    still = standing(auth, account_id).json()
    assert (still["state"], still["restricting_case_ids"]) == ("restricted", [OTHER_CASE])

    send(auth, contract.CASE_CLOSED, case_payload(account_id, OTHER_CASE))
    free = standing(auth, account_id).json()
    assert (free["state"], free["can_order"], free["restricting_case_ids"]) == ("active", True, [])
    assert audit_kinds(auth, account_id).count("restriction_lifted") == 2


def test_each_event_applies_once_and_a_lift_that_overtakes_its_opening_wins(auth: AuthHarness) -> None:
    account_id = make_customer(auth.app, "hana@example.com")
    event_id = uuid.uuid4().hex
    assert opened(auth, account_id, event_id=event_id)["status"] == "applied"
    assert opened(auth, account_id, event_id=event_id)["status"] == "duplicate"
    opened(auth, account_id)  # the same case announced again under a new event id
    assert audit_kinds(auth, account_id).count("account_restricted") == 1

    send(auth, contract.CASE_APPROVED, case_payload(account_id, OTHER_CASE))  # before its opening
    opened(auth, account_id, OTHER_CASE)
    assert standing(auth, account_id).json()["restricting_case_ids"] == [CASE]


def test_a_final_rejection_closes_the_account_and_ends_every_session(auth: AuthHarness) -> None:
    account_id = make_customer(auth.app, "hana@example.com")
    token = sign_in(auth.app, account_id)
    opened(auth, account_id)
    send(auth, contract.CASE_REJECTED, case_payload(account_id, close_account=True, reason_code="documents_forged"))

    assert auth.call("GET", "/api/auth/me", token=token).status_code == 401
    with auth.app.state.db.session() as db:
        assert (
            db.execute(select(Session).where(Session.account_id == account_id, Session.revoked_at.is_(None))).all()
            == []
        )
    answer = standing(auth, account_id).json()
    assert (answer["state"], answer["can_order"], answer["can_change_contact"]) == ("closed", False, False)
    assert "account_closed" in audit_kinds(auth, account_id)


def test_a_rejection_that_does_not_close_lifts_the_restriction(auth: AuthHarness) -> None:
    account_id = make_customer(auth.app, "hana@example.com")
    opened(auth, account_id)
    send(auth, contract.CASE_REJECTED, case_payload(account_id, close_account=False))
    assert standing(auth, account_id).json()["state"] == "active"


def test_events_for_unknown_accounts_are_recorded_and_bad_payloads_refused(auth: AuthHarness) -> None:
    assert opened(auth, "0" * 32)["status"] == "applied"  # logged; the producer stops retrying
    bad = deliver_event(auth.client, auth.app, envelope(contract.CASE_OPENED, {"case_id": CASE}))
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_event_payload"


def test_the_standing_call_is_for_services_only_and_404s_an_unknown_account(auth: AuthHarness) -> None:
    account_id = make_customer(auth.app, "hana@example.com")
    customer_token = sign_in(auth.app, account_id)
    path = f"/internal/accounts/{account_id}/standing"
    assert auth.client.get(path).status_code == 401
    assert auth.client.get(path, headers={"authorization": f"Bearer {customer_token}"}).status_code == 401
    missing = standing(auth, "f" * 32)
    assert missing.status_code == 404 and missing.json()["code"] == "account_not_found"
