"""Balance top-ups are held like the cash they are (``services/orders/risk/rules.py``).

Four 50,000-yen top-ups in a row used to be placed with no risk reason: the limit held only
strictly above 50,000 yen and the velocity rule counted gift cards alone. Now the limit holds at
50,000, gift cards and top-ups count together in the day's velocity, and a top-up from a session
(the access token's ``session_started_at``) or a device younger than a day is held.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import jwt

from mamori_common.tokens import AUDIENCE, ISSUER
from tests.orders.harness import KID, Customer, OrdersHarness, card_tender, line

DAY = timedelta(days=1)


def _settled_customer(orders: OrdersHarness, session_age: timedelta) -> Customer:
    """A customer whose session began ``session_age`` ago (the claim auth's tokens carry)."""
    base = orders.customer()

    def mint(account_id: str, session_id: str, device_id: str | None = None) -> str:
        now = orders.clock.now()
        claims: dict[str, object] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": account_id,
            "sid": session_id,
            "role": "customer",
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + 600,
            "auth_time": int(now.timestamp()),  # signed in again just now: still the same session
            "session_started_at": int((now - session_age).timestamp()),
        }
        if device_id:
            claims["device_id"] = device_id  # the device auth recognised
        return jwt.encode(claims, orders.private_key, algorithm="EdDSA", headers={"kid": KID})

    return Customer(base.account_id, base.session_id, mint)


def _top_up(orders: OrdersHarness, customer: Customer, amount: int, device: str | None = None) -> dict[str, object]:
    customer = dataclasses.replace(customer, device_id=device) if device else customer
    placed = orders.place(customer, [line("balance_top_up", amount, "Balance top-up")], [card_tender(amount)])
    assert placed.status_code == 201, placed.text
    body: dict[str, object] = placed.json()
    return body


def test_four_50000_yen_top_ups_in_a_row_are_all_held_with_their_reasons(orders: OrdersHarness) -> None:
    customer = _settled_customer(orders, session_age=3 * DAY)
    placed = [_top_up(orders, customer, 50_000) for _ in range(4)]
    assert [order["state"] for order in placed] == ["held"] * 4
    reasons = [set(order["risk"]["reasons"]) for order in placed]  # type: ignore[index]
    assert all("gift_or_top_up_over_limit" in found for found in reasons), reasons
    assert "gift_or_top_up_velocity" not in reasons[1] and "gift_or_top_up_velocity" in reasons[2], reasons


def test_gift_cards_and_top_ups_under_the_limit_count_together_in_a_day(orders: OrdersHarness) -> None:
    customer = _settled_customer(orders, session_age=3 * DAY)
    gift = orders.place(customer, [line("gift_card", 10_000)], [card_tender(10_000)]).json()
    first_top_up = _top_up(orders, customer, 10_000)
    third = _top_up(orders, customer, 10_000)
    assert [gift["state"], first_top_up["state"]] == ["placed", "placed"]
    assert third["state"] == "held" and third["risk"]["reasons"] == ["gift_or_top_up_velocity"]  # type: ignore[index]
    orders.clock.advance(days=1, minutes=1)
    assert _top_up(orders, customer, 10_000)["state"] == "placed", "a new day starts the count again"


def test_a_top_up_from_a_session_or_device_younger_than_a_day_is_held(orders: OrdersHarness) -> None:
    fresh = _settled_customer(orders, session_age=timedelta(minutes=5))
    held = _top_up(orders, fresh, 3_000)
    assert held["state"] == "held" and held["risk"]["reasons"] == ["top_up_from_new_session_or_device"]  # type: ignore[index]

    settled = _settled_customer(orders, session_age=3 * DAY)
    assert _top_up(orders, settled, 3_000)["state"] == "placed"
    # A device the account never ordered from before today holds it too, however old the session.
    new_device = _top_up(orders, settled, 3_000, device="dev-new-phone")
    assert new_device["state"] == "held" and new_device["risk"]["reasons"] == ["top_up_from_new_session_or_device"]  # type: ignore[index]
    # Not the small things: an ordinary order from the young session is placed.
    ordinary = orders.place(fresh, [line("physical", 3_000)], [card_tender(3_000)]).json()
    assert ordinary["state"] == "placed"
