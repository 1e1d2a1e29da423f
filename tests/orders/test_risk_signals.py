"""Orders reports what an order says about its session to auth (``order.risk_signals``, story S2)."""

from __future__ import annotations

from typing import Any

from mamori_common import contract
from services.orders.intrusion.signals import signals_of
from tests.orders.harness import CARD, OrdersHarness, card_tender, line


def test_the_signals_of_an_order() -> None:
    assert signals_of(["gift_card"], ["tok_a"], set(), has_history=True) == ["new_tender", "gift_card_order"]
    assert signals_of(["balance_top_up", "physical"], ["tok_a"], {"tok_a"}, has_history=True) == ["top_up_order"]
    assert signals_of(["physical"], ["tok_a"], set(), has_history=False) == [], "a first order has no baseline"
    assert signals_of(["physical"], [], set(), has_history=True) == []


def _order(kind: str, amount: int, card: dict[str, Any]) -> dict[str, Any]:
    return {
        "lines": [{"kind": kind, "description": kind, "unit_amount": amount}],
        "tenders": [{"kind": "card", "amount": amount, "card": card}],
    }


def test_placed_orders_publish_their_sessions_signals_to_auth(orders: OrdersHarness) -> None:
    customer = orders.customer()
    first = orders.client.post("/api/orders/orders", json=_order("physical", 500, CARD), headers=customer.headers())
    assert first.status_code == 201, first.text
    assert orders.published(contract.ORDER_RISK_SIGNALS) == [], "a plain first order says nothing"

    stolen = {**CARD, "token": "tok_mastercard_5555", "last4": "5555"}
    gift = orders.client.post("/api/orders/orders", json=_order("gift_card", 3000, stolen), headers=customer.headers())
    assert gift.status_code == 201, gift.text

    [published] = orders.published(contract.ORDER_RISK_SIGNALS)
    event = contract.OrderRiskSignals.model_validate(published)
    assert (event.account_id, event.session_id, event.order_id) == (
        customer.account_id,
        customer.session_id,
        gift.json()["id"],
    )
    assert event.signals == ["new_tender", "gift_card_order"]


def test_a_freeze_undoes_the_intruders_orders_and_the_window_not_the_owners_earlier_ones(
    orders: OrdersHarness,
) -> None:
    owner = orders.customer()
    before = orders.place(owner, [line("physical", 1_000, "Tea")], [card_tender(1_000)]).json()
    orders.clock.advance(hours=2)
    intrusion_began = orders.clock.now()
    intruder = orders.customer(account_id=owner.account_id)
    gift = orders.place(intruder, [line("gift_card", 3_000)], [card_tender(3_000)]).json()
    during = orders.place(owner, [line("physical", 800, "Soap")], [card_tender(800)]).json()

    delivered = orders.event(
        contract.SESSION_COMPROMISED,
        {
            "account_id": owner.account_id,
            "case_id": "intrusion-2",
            "session_ids": [owner.session_id, intruder.session_id],  # auth ends every session
            "suspicious_session_ids": [intruder.session_id],
            "window": {"from": intrusion_began.isoformat(), "to": orders.clock.now().isoformat()},
        },
    )

    assert delivered.status_code == 200, delivered.text

    def state(order_id: str) -> str:
        return str(orders.client.get(f"/api/orders/orders/{order_id}", headers=owner.headers()).json()["state"])

    assert state(gift["id"]) == "cancelled"
    assert state(during["id"]) == "cancelled", "inside the window even the owner's session may be the intruder's"
    assert state(before["id"]) == "placed", "the owner's order from before the intrusion stands"
