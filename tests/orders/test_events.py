"""Events orders receives: applied once, and a payload that breaks the contract changes nothing."""

from __future__ import annotations

from mamori_common import contract
from tests.orders.harness import OrdersHarness, card_tender, line


def test_a_malformed_session_compromised_is_refused_and_changes_nothing(orders: OrdersHarness) -> None:
    customer = orders.customer()
    order_id = orders.place(customer, [line("physical", 500)], [card_tender(500)]).json()["id"]

    response = orders.event(contract.SESSION_COMPROMISED, {"session_ids": "not-a-list"})

    assert (response.status_code, response.json()["code"]) == (422, "invalid_event_payload")
    assert orders.client.get(f"/api/orders/orders/{order_id}", headers=customer.headers()).json()["state"] == "placed"


def test_a_redelivered_session_compromised_refunds_once(orders: OrdersHarness) -> None:
    customer = orders.customer()
    orders.place(customer, [line("physical", 500)], [card_tender(500)])
    payload = {"account_id": customer.account_id, "case_id": "c-1", "session_ids": [customer.session_id]}

    first = orders.event(contract.SESSION_COMPROMISED, payload, event_id="evt-once")
    again = orders.event(contract.SESSION_COMPROMISED, payload, event_id="evt-once")
    other_id = orders.event(contract.SESSION_COMPROMISED, payload, event_id="evt-twice")

    assert first.json()["status"] == "applied" and again.json()["status"] == "duplicate"
    assert other_id.status_code == 200, "a second event about the same sessions finds nothing left to undo"
    refunds = orders.client.get("/api/orders/refunds", headers=customer.headers()).json()["items"]
    assert [refund["amount"] for refund in refunds] == [500]
    assert len(orders.published(contract.NOTIFY)) == 1


def test_a_case_decision_for_another_account_touches_nothing(orders: OrdersHarness) -> None:
    owner = orders.customer(name="Kenji Tanaka")
    held = orders.place(owner, [line("gift_card", 100_000)], [card_tender(100_000, holder_name="Yumi Tanaka")]).json()
    stranger = orders.customer()
    decision = {
        "case_id": "x",
        "case_number": contract.case_number("x"),
        "account_id": stranger.account_id,
        "kind": "payment_verification",
        "order_ids": [held["id"]],
    }

    assert orders.event(contract.CASE_REJECTED, decision, source="verification").status_code == 200
    assert orders.client.get(f"/api/orders/orders/{held['id']}", headers=owner.headers()).json()["state"] == "held"
