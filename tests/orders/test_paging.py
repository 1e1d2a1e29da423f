"""listOrders and listRefunds page by cursor: each item once, in order, while new ones arrive; a
cursor that is not the caller's own for this list is a 400 problem that shows nothing."""

from __future__ import annotations

from typing import Any

import httpx

from tests.orders.harness import Customer, OrdersHarness, card_tender, line
from tests.support.paging import assert_bad_cursor_refused, follow


def _place(orders: OrdersHarness, customer: Customer, amount: int = 1_000) -> str:
    orders.clock.advance(seconds=1)
    placed = orders.place(customer, [line("physical", amount)], [card_tender(amount)])
    assert placed.status_code == 201, placed.text
    return str(placed.json()["id"])


def _orders_page(orders: OrdersHarness, customer: Customer, limit: int, cursor: str | None) -> httpx.Response:
    params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
    return orders.client.get("/api/orders/orders", headers=customer.headers(), params=params)


def test_paging_through_orders_returns_each_once_newest_first_while_new_ones_are_placed(
    orders: OrdersHarness,
) -> None:
    hana = orders.customer()
    placed = [_place(orders, hana) for _ in range(7)]
    during: list[str] = []

    seen = follow(
        lambda cursor: _orders_page(orders, hana, 3, cursor), between=lambda _n: during.append(_place(orders, hana))
    )

    assert [order["id"] for order in seen] == placed[::-1]
    assert len(during) == 2  # pages of 3, 3 and 1: a new order placed after each of the first two
    first = _orders_page(orders, hana, 3, None).json()
    assert [order["id"] for order in first["items"]] == (placed + during)[::-1][:3]


def test_the_default_page_is_bounded_and_the_last_page_has_no_next(orders: OrdersHarness) -> None:
    hana = orders.customer()
    for _ in range(21):
        _place(orders, hana, 100)

    default = orders.client.get("/api/orders/orders", headers=hana.headers()).json()

    assert len(default["items"]) == 20 and default["next"]
    last = _orders_page(orders, hana, 100, default["next"]).json()
    assert len(last["items"]) == 1 and last["next"] is None


def test_another_customers_cursor_or_an_edited_one_is_refused_and_shows_nothing(orders: OrdersHarness) -> None:
    hana, ken = orders.customer(), orders.customer("Ken Ito")
    for _ in range(3):
        _place(orders, hana)
        _place(orders, ken)
    hanas_next = _orders_page(orders, hana, 1, None).json()["next"]
    body, _, mac = hanas_next.partition(".")

    for cursor in (hanas_next, f"{body}.{mac[:-2]}", f"e30.{mac}", "x.y"):
        assert_bad_cursor_refused(_orders_page(orders, ken, 1, cursor))
    for limit in (0, 101, -1):
        refused = _orders_page(orders, ken, limit, None)
        assert refused.status_code == 422 and refused.json()["code"] == "validation_error"
    overlong = orders.client.get("/api/orders/orders", headers=ken.headers(), params={"cursor": "a." + "b" * 300})
    assert overlong.status_code == 422
    assert len(_orders_page(orders, hana, 1, hanas_next).json()["items"]) == 1


def test_refunds_page_and_a_cursor_holds_only_for_the_order_it_was_made_for(orders: OrdersHarness) -> None:
    hana = orders.customer()
    cancelled = []
    for _ in range(5):
        order_id = _place(orders, hana, 500)
        assert orders.client.post(f"/api/orders/orders/{order_id}/cancel", headers=hana.headers()).status_code == 200
        cancelled.append(order_id)

    def page(cursor: str | None, **params: Any) -> httpx.Response:
        return orders.client.get(
            "/api/orders/refunds",
            headers=hana.headers(),
            params={"limit": 2, **params} | ({"cursor": cursor} if cursor else {}),
        )

    refunds = follow(page)

    assert [refund["order_id"] for refund in refunds] == cancelled  # oldest first
    everything_next = page(None).json()["next"]
    assert_bad_cursor_refused(page(everything_next, order_id=cancelled[0]))
