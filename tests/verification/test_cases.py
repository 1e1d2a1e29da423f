"""Cases from events, what the customer sees of them, supplements and callbacks (in-process)."""

from __future__ import annotations

import uuid

from mamori_common import contract
from tests.support.service_keys import service_token
from tests.verification.conftest import VerificationHarness

ALICE, BOB = "a" * 32, "b" * 32


def test_a_lock_opens_a_lockout_case_under_auths_id_and_the_unlock_closes_it(verification: VerificationHarness) -> None:
    case_id = uuid.uuid4().hex
    verification.publish(
        "account.locked",
        {
            "case_id": case_id,
            "account_id": ALICE,
            "reason": "Too many wrong codes",
            "locked_until": "2026-11-23T10:00:00+00:00",
            "kind": "lockout",
        },
    )
    [summary] = verification.cases(ALICE)
    assert summary["id"] == case_id and summary["kind"] == "lockout" and summary["state"] == "awaiting_customer"
    assert summary["number"] == contract.case_number(case_id)
    detail = verification.case(ALICE, case_id)
    assert "Too many wrong codes" in detail["timeline"][0]["summary"]["en"]
    assert detail["timeline"][0]["actor"] == "auth" and detail["timeline"][0]["channel"] == "event"

    verification.publish("account.unlocked", {"case_id": case_id, "account_id": ALICE, "how": "self_service"})
    detail = verification.case(ALICE, case_id)
    assert detail["state"] == "closed" and detail["due_at"] is None
    assert [entry["kind"] for entry in detail["timeline"]] == ["opened_lockout", "unlocked", "closed"]
    closed = verification.sent("case.closed")
    assert closed == [{"case_id": case_id, "case_number": summary["number"], "account_id": ALICE, "kind": "lockout"}]


def test_freeze_and_compromised_sessions_make_one_intrusion_case_and_a_redelivery_changes_nothing(
    verification: VerificationHarness,
) -> None:
    case_id = uuid.uuid4().hex
    compromised = {"account_id": ALICE, "case_id": case_id, "session_ids": ["s1", "s2"]}
    verification.publish("session.compromised", compromised, event_id="evt-1")
    assert verification.publish("session.compromised", compromised, event_id="evt-1")["status"] == "duplicate"
    verification.publish(
        "account.frozen",
        {
            "case_id": case_id,
            "account_id": ALICE,
            "kind": "intrusion",
            "reason": "The e-mail change was reported as not yours.",
        },
    )
    [case] = verification.cases(ALICE)
    assert case["kind"] == "intrusion" and case["id"] == case_id
    kinds = [entry["kind"] for entry in verification.case(ALICE, case_id)["timeline"]]
    assert kinds == ["opened_intrusion", "session_compromised", "account_frozen"]
    assert len(verification.sent("case.opened")) == 1


def test_a_held_payment_opens_a_restricting_case_and_tells_auth_and_the_customer(
    verification: VerificationHarness,
) -> None:
    case_id = verification.hold_payment(ALICE, amount=100_000)
    [opened] = verification.sent("case.opened")
    assert opened["case_id"] == case_id and opened["restricts_account"] is True
    assert opened["kind"] == "payment_verification" and opened["account_id"] == ALICE
    [notice] = verification.notices(ALICE)
    number = contract.case_number(case_id)
    assert number in notice["subject_ja"] and number in notice["body_en"] and number in notice["body_ja"]
    assert "¥100,000" in notice["body_en"] and "100,000円" in notice["body_ja"] and "JPY" not in notice["body_en"]
    assert "{due_at}" in notice["body_en"] and "{due_at}" in notice["body_ja"]
    assert notice["due_at"] == verification.case(ALICE, case_id)["due_at"].replace("Z", "+00:00")
    assert "Card statement" in notice["body_en"] and "カードのご利用明細書" in notice["body_ja"]

    detail = verification.case(ALICE, case_id)
    assert [item["code"] for item in detail["checklist"]] == [
        "statement",
        "billing_name",
        "billing_address",
        "cardholder_phone",
    ]
    assert {item["status"] for item in detail["checklist"]} == {"missing"}
    assert detail["card_last4"] == "4242"


def test_a_second_held_payment_joins_the_open_case(verification: VerificationHarness) -> None:
    first = verification.hold_payment(ALICE, order_id="order-1", amount=50_000)
    second = verification.hold_payment(ALICE, order_id="order-2", amount=50_000)
    assert first == second
    assert len(verification.cases(ALICE)) == 1
    assert verification.case(ALICE, first)["order_ids"] == ["order-1", "order-2"]
    assert len(verification.sent("case.opened")) == 1


def test_another_customers_case_is_404_like_an_unknown_one(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    for path in (f"/api/verification/cases/{case_id}", "/api/verification/cases/unknown"):
        response = verification.client.get(path, headers=verification.as_user(BOB))
        assert response.status_code == 404 and response.json()["code"] == "case_not_found"
    response = verification.client.post(
        f"/api/verification/cases/{case_id}/supplements",
        headers=verification.as_user(BOB),
        json={"item": "billing_address", "value": "Tokyo"},
    )
    assert response.status_code == 404
    assert verification.cases(BOB) == []


def test_no_token_is_401(verification: VerificationHarness) -> None:
    response = verification.client.get("/api/verification/cases")
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"


def test_a_typed_supplement_meets_its_item_but_never_holds_a_card_number(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    url = f"/api/verification/cases/{case_id}/supplements"
    refused = verification.client.post(
        url, headers=verification.as_user(ALICE), json={"item": "billing_address", "value": "4111 1111 1111 1111 Tokyo"}
    )
    assert refused.status_code == 422 and refused.json()["code"] == "card_number_visible"
    assert verification.case(ALICE, case_id)["checklist"][2]["status"] == "missing"

    response = verification.client.post(
        url,
        headers=verification.as_user(ALICE),
        json={"item": "billing_address", "value": "1-2-3 Shibuya, Tokyo 150-0002"},
    )
    assert response.status_code == 200, response.text
    address = response.json()["checklist"][2]
    assert (address["code"], address["status"], address["source"]) == ("billing_address", "received", "supplement")
    statement_only = verification.client.post(
        url, headers=verification.as_user(ALICE), json={"item": "statement", "value": "it is fine"}
    )
    assert statement_only.status_code == 422


def test_a_callback_joins_the_case_and_the_staff_queue(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    response = verification.client.post(
        "/api/verification/callbacks",
        headers=verification.as_user(ALICE),
        json={"phone": "+81 90-1234-5678", "case_id": case_id},
    )
    assert response.status_code == 201, response.text
    assert response.json()["id"] == case_id
    queue = verification.client.get("/api/verification/staff/queue", headers=verification.as_user("s" * 32, "support"))
    assert [item["id"] for item in queue.json()["items"]] == [case_id]
    assert queue.json()["items"][0]["needs_staff"] is True

    new = verification.client.post(
        "/api/verification/callbacks", headers=verification.as_user(BOB), json={"phone": "03-1234-5678"}
    )
    assert new.status_code == 201 and new.json()["kind"] == "callback"
    other = verification.client.post(
        "/api/verification/callbacks",
        headers=verification.as_user(BOB),
        json={"phone": "03-1234-5678", "case_id": case_id},
    )
    assert other.status_code == 404


def test_not_me_reports_and_activity_from_orders_show_on_the_case(verification: VerificationHarness) -> None:
    verification.publish(
        "order.reported_not_mine",
        {"order_id": "o-9", "account_id": ALICE, "actions": ["cancelled", "refunded"]},
        source="orders",
    )
    [case] = verification.cases(ALICE)
    assert case["kind"] == "not_me"
    verification.publish(
        "case.activity",
        {"case_id": case["id"], "account_id": ALICE, "summary_ja": "返金しました", "summary_en": "Refunded 500 JPY"},
        source="orders",
    )
    timeline = verification.case(ALICE, case["id"])["timeline"]
    assert timeline[-1]["summary"]["en"] == "Refunded 500 JPY" and timeline[-1]["actor"] == "orders"


def test_a_broken_event_payload_is_refused_and_changes_nothing(verification: VerificationHarness) -> None:
    token = service_token(verification.app, "orders")
    response = verification.client.post(
        "/internal/events",
        headers={"authorization": f"Bearer {token}"},
        json={
            "id": "bad-1",
            "type": "payment.held",
            "source": "orders",
            "occurred_at": "2026-11-23T00:00:00Z",
            "payload": {"account_id": ALICE, "amount": "lots"},
        },
    )
    assert response.status_code == 422 and response.json()["code"] == "invalid_event_payload"
    assert verification.cases(ALICE) == [] and verification.sent() == []


def test_a_lock_announced_without_a_case_id_still_opens_and_closes_one(verification: VerificationHarness) -> None:
    verification.publish("account.locked", {"account_id": ALICE, "reason": "Locked by a tool"})
    [case] = verification.cases(ALICE)
    assert case["kind"] == "lockout" and case["number"] == contract.case_number(case["id"])
    verification.publish("account.unlocked", {"account_id": ALICE})
    assert verification.case(ALICE, case["id"])["state"] == "closed"
    token = service_token(verification.app, "auth")
    too_long = verification.client.post(
        "/internal/events",
        headers={"authorization": f"Bearer {token}"},
        json={
            "id": "long-1",
            "type": "account.locked",
            "source": "auth",
            "occurred_at": "2026-11-23T00:00:00Z",
            "payload": {"account_id": ALICE, "case_id": "x" * 40},
        },
    )
    assert too_long.status_code == 422


def test_the_promised_time_counts_from_the_customers_last_input(verification: VerificationHarness) -> None:
    from datetime import datetime, timedelta

    case_id = verification.hold_payment(ALICE)
    opened = datetime.fromisoformat(verification.case(ALICE, case_id)["due_at"].replace("Z", "+00:00"))
    verification.clock.advance(hours=3)
    verification.client.post(
        f"/api/verification/cases/{case_id}/supplements",
        headers=verification.as_user(ALICE),
        json={"item": "cardholder_phone", "value": "090-1234-5678"},
    )
    later = datetime.fromisoformat(verification.case(ALICE, case_id)["due_at"].replace("Z", "+00:00"))
    assert later - opened == timedelta(hours=3)
    assert later == verification.clock.now().replace(microsecond=later.microsecond) + timedelta(hours=24)
    assert verification.notices(ALICE)[-1]["due_at"] == later.isoformat()


def test_a_not_me_case_opens_under_the_id_orders_gave_the_customer(verification: VerificationHarness) -> None:
    minted = "f" * 32
    verification.publish(
        "order.reported_not_mine",
        {"order_id": "o-10", "account_id": ALICE, "actions": ["cancelled"], "case_id": minted},
        source="orders",
    )
    [case] = verification.cases(ALICE)
    assert (case["id"], case["kind"]) == (minted, "not_me")
