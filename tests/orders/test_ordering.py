"""placeOrder and friends through the API: standing, one-click, ownership, bad input, payments."""

from __future__ import annotations

from sqlalchemy import func, select

from services.orders.ordering.models import Order
from services.orders.payments.models import PaymentTask
from services.orders.standing import RecordedStanding
from tests.orders.harness import OrdersHarness, card_tender, line


def order_count(orders: OrdersHarness) -> int:
    with orders.app.state.db.session() as db:
        return int(db.scalar(select(func.count()).select_from(Order)) or 0)


def test_a_restricted_account_cannot_order_and_is_told_which_case(orders: OrdersHarness) -> None:
    customer = orders.customer(state="restricted")
    standing = orders.standing.answers[customer.account_id]
    orders.standing.record(standing.model_copy(update={"restricting_case_ids": ["case-7"]}))

    response = orders.place(customer, [line("physical", 500)], [card_tender(500)])

    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "account_restricted" and body["case_ids"] == ["case-7"]
    assert body["case_numbers"][0] in body["detail"]
    assert order_count(orders) == 0


def test_every_closed_state_is_refused(orders: OrdersHarness) -> None:
    for state in ("locked", "frozen", "closed"):
        response = orders.place(orders.customer(state=state), [line("physical", 500)], [card_tender(500)])
        assert (response.status_code, response.json()["code"]) == (403, "account_restricted"), state


def test_when_auth_cannot_answer_orders_fails_closed_and_charges_nothing(orders: OrdersHarness) -> None:
    customer = orders.customer()
    orders.app.state.standing = RecordedStanding()  # auth unreachable: no answer for anyone

    response = orders.place(customer, [line("physical", 500)], [card_tender(500)])

    assert response.status_code == 503
    assert response.json()["code"] == "standing_unavailable"
    assert order_count(orders) == 0


def test_the_order_remembers_session_device_and_address(orders: OrdersHarness) -> None:
    customer = orders.customer()
    customer.device_id = "dv_phone-1"  # the device auth recognised, in the token
    # What the client states about its device is not read (it proves nothing, and could hold anything).
    stated = {"x-device-id": "4556737586899855"}
    order_id = orders.place(customer, [line("physical", 500)], [card_tender(500)], **stated).json()["id"]
    with orders.app.state.db.session() as db:
        order = db.get(Order, order_id)
        assert order is not None
        assert (order.session_id, order.device_id, order.client_ip) == (customer.session_id, "dv_phone-1", "testclient")


def test_one_click_off_needs_a_confirmation_before_anything_is_charged(orders: OrdersHarness) -> None:
    customer = orders.customer()
    off = orders.client.put("/api/orders/settings/one-click", json={"enabled": False}, headers=customer.headers())
    assert off.status_code == 200 and off.json()["enabled"] is False and off.json()["detail"]["ja"]

    pending = orders.place(customer, [line("digital", 1_200)], [card_tender(1_200)])
    assert pending.status_code == 202
    assert pending.json()["state"] == "awaiting_confirmation"
    assert pending.json()["tenders"][0]["captured"] == 0

    confirmed = orders.client.post(f"/api/orders/orders/{pending.json()['id']}/confirm", headers=customer.headers())
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "placed" and confirmed.json()["tenders"][0]["captured"] == 1_200
    again = orders.client.post(f"/api/orders/orders/{pending.json()['id']}/confirm", headers=customer.headers())
    assert (again.status_code, again.json()["code"]) == (409, "not_awaiting_confirmation")


def test_another_customers_order_answers_404_everywhere(orders: OrdersHarness) -> None:
    owner, other = orders.customer(), orders.customer()
    order_id = orders.place(owner, [line("physical", 500)], [card_tender(500)]).json()["id"]
    for method, path in (
        ("GET", f"/api/orders/orders/{order_id}"),
        ("POST", f"/api/orders/orders/{order_id}/cancel"),
        ("POST", f"/api/orders/orders/{order_id}/not-mine"),
        ("GET", f"/api/orders/orders/{order_id}/refund-confirmation"),
    ):
        response = orders.client.request(method, path, headers=other.headers())
        assert response.status_code == 404, (method, path, response.text)
    assert orders.client.get(f"/api/orders/orders/{order_id}", headers=owner.headers()).json()["state"] == "placed"


def test_bad_input_is_a_clear_4xx_and_changes_nothing(orders: OrdersHarness) -> None:
    customer = orders.customer()
    headers = {**customer.headers(), "content-type": "application/json"}
    broken = orders.client.post("/api/orders/orders", content=b'{"lines": [', headers=headers)
    assert (broken.status_code, broken.json()["code"]) == (400, "malformed_body")
    short = orders.place(customer, [line("physical", 500)], [card_tender(400)])
    assert (short.status_code, short.json()["code"]) == (422, "validation_error")
    full_number = orders.place(
        customer, [line("physical", 500)], [{"kind": "card", "amount": 500, "card": {"number": "4111111111111111"}}]
    )
    assert full_number.status_code == 422
    assert "4111111111111111" not in full_number.text, "a full card number is never echoed"
    nobody = orders.client.post("/api/orders/orders", json={"lines": [], "tenders": []})
    assert (nobody.status_code, nobody.json()["code"]) == (401, "unauthenticated")
    assert order_count(orders) == 0


def test_a_declined_card_places_no_order(orders: OrdersHarness) -> None:
    response = orders.place(orders.customer(), [line("physical", 500)], [card_tender(500, token="tok_declined")])
    assert (response.status_code, response.json()["code"]) == (402, "payment_declined")
    assert order_count(orders) == 0


def test_not_enough_points_refuses_the_order_and_voids_nothing_twice(orders: OrdersHarness) -> None:
    customer = orders.customer()
    orders.grant(customer.account_id, "points", 100)
    response = orders.place(customer, [line("physical", 500)], [{"kind": "points", "amount": 300}, card_tender(200)])
    assert (response.status_code, response.json()["code"]) == (409, "insufficient_points")
    assert orders.balance(customer.account_id, "points") == 100
    assert order_count(orders) == 0


def test_a_card_refund_the_provider_fails_is_retried_until_done_never_twice(orders: OrdersHarness) -> None:
    customer = orders.customer()
    order_id = orders.place(customer, [line("physical", 2_000)], [card_tender(2_000)]).json()["id"]
    orders.app.state.payment_provider.fail_next("refund", 2)
    orders.app.state.payment_provider.fail_next("refund", 1, timeout=True)

    cancelled = orders.client.post(f"/api/orders/orders/{order_id}/cancel", headers=customer.headers())
    assert cancelled.status_code == 200
    assert cancelled.json()["refund"]["parts"][0]["state"] == "pending"

    context = orders.app.state.orders
    for _ in range(4):
        orders.clock.advance(minutes=10)
        context.settle()
    refund = orders.client.get("/api/orders/refunds", headers=customer.headers()).json()["items"][0]
    assert refund["parts"] == [{**refund["parts"][0], "tender": "card", "amount": 2_000, "state": "done"}]
    with orders.app.state.db.session() as db:
        task = db.scalar(select(PaymentTask).where(PaymentTask.action == "refund"))
        assert task is not None and task.attempts == 3 and task.state == "done"
    from services.orders.payments.models import SandboxAuthorisation

    with orders.app.state.db.session() as db:
        assert [row.refunded for row in db.scalars(select(SandboxAuthorisation))] == [2_000]


def test_staff_routes_refuse_customers_and_customer_routes_refuse_staff(orders: OrdersHarness) -> None:
    customer = orders.customer()
    order_id = orders.place(customer, [line("physical", 500)], [card_tender(500)]).json()["id"]
    as_customer = orders.client.post(f"/api/orders/staff/orders/{order_id}/ship", headers=customer.headers())
    assert (as_customer.status_code, as_customer.json()["code"]) == (403, "forbidden")
    as_specialist = orders.client.post(f"/api/orders/staff/orders/{order_id}/ship", headers=orders.staff("specialist"))
    assert as_specialist.status_code == 403
    staff_places = orders.client.post(
        "/api/orders/orders", json={"lines": [line("physical", 1)], "tenders": [card_tender(1)]}, headers=orders.staff()
    )
    assert staff_places.status_code == 403


def test_a_return_is_refunded_once_when_staff_receive_it(orders: OrdersHarness) -> None:
    customer = orders.customer()
    order = orders.place(customer, [line("physical", 700), line("physical", 300)], [card_tender(1_000)]).json()
    orders.client.post(f"/api/orders/staff/orders/{order['id']}/ship", headers=orders.staff())
    early = orders.client.post(f"/api/orders/orders/{order['id']}/cancel", headers=customer.headers())
    assert (early.status_code, early.json()["code"]) == (409, "already_shipped")
    opened = orders.client.post(
        f"/api/orders/orders/{order['id']}/returns",
        json={"line_ids": [order["lines"][0]["id"]]},
        headers=customer.headers(),
    )
    assert opened.status_code == 201, opened.text
    first = orders.client.post(f"/api/orders/staff/returns/{opened.json()['id']}/receive", headers=orders.staff())
    second = orders.client.post(f"/api/orders/staff/returns/{opened.json()['id']}/receive", headers=orders.staff())
    assert first.json()["refund"]["amount"] == 700
    assert (second.status_code, second.json()["code"]) == (409, "return_already_received")
    refunds = orders.client.get("/api/orders/refunds", headers=customer.headers()).json()["items"]
    assert [refund["amount"] for refund in refunds] == [700]


def test_cancel_subscription_refunds_the_unused_share(orders: OrdersHarness) -> None:
    customer = orders.customer()
    order = orders.place(customer, [line("subscription", 3_000, "Prime")], [card_tender(3_000)]).json()
    orders.clock.advance(days=10)
    cancelled = orders.client.post(
        f"/api/orders/subscriptions/{order['subscription_ids'][0]}/cancel", headers=customer.headers()
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled" and cancelled.json()["refund"]["amount"] == 2_000
    again = orders.client.post(
        f"/api/orders/subscriptions/{order['subscription_ids'][0]}/cancel", headers=customer.headers()
    )
    assert (again.status_code, again.json()["code"]) == (409, "already_cancelled")
