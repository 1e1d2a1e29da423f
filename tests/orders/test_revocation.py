"""Orders refuses the access token of an ended session (``mamori_common/revocations.py``).

On main orders checked only a token's signature, so a session ended at auth went on ordering for
the rest of its token's ten minutes. Here: auth's ``session.revoked`` stops the session's token at
once (``401 session_revoked``) and leaves the account's other sessions alone; the refusal survives
a restart of orders with auth out of reach (the table is read at start); the standing check names
the session, so an ending orders has not heard of yet still stops an order; and a token is taken
from the ``Authorization`` header only, never from a cookie.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from mamori_common.contract import SESSION_REVOKED
from services.orders.config import OrdersSettings
from tests.orders.harness import Customer, OrdersHarness, build, card_tender, line


def _revoked(orders: OrdersHarness, customer: Customer, *session_ids: str) -> None:
    answer = orders.event(
        SESSION_REVOKED,
        {
            "account_id": customer.account_id,
            "session_ids": list(session_ids or [customer.session_id]),
            "reason": "logout",
            "revoked_at": orders.clock.now().isoformat(),
        },
    )
    assert answer.status_code == 200, answer.text


def _top_up(orders: OrdersHarness, customer: Customer) -> httpx.Response:
    return orders.place(customer, [line("balance_top_up", 50_000)], [card_tender(50_000)])


def _assert_session_revoked(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "session_revoked"


def test_a_revoked_session_is_refused_and_the_accounts_other_sessions_go_on(orders: OrdersHarness) -> None:
    ended = orders.customer()
    other = Customer(ended.account_id, uuid.uuid4().hex, ended.mint)
    assert orders.client.get("/api/orders/orders", headers=ended.headers()).status_code == 200

    _revoked(orders, ended)

    _assert_session_revoked(orders.client.get("/api/orders/orders", headers=ended.headers()))
    _assert_session_revoked(_top_up(orders, ended))
    assert orders.published("payment.held") == [], "nothing was ordered from the ended session"
    assert orders.client.get("/api/orders/orders", headers=other.headers()).status_code == 200


def test_a_revocation_is_refused_after_a_restart_with_auth_out_of_reach(data_dir: Path) -> None:
    settings = OrdersSettings(data_dir=data_dir, auth_url="http://127.0.0.1:9")  # nobody listens there
    app, standing, key, clock = build(settings)
    with TestClient(app) as client:
        first = OrdersHarness(app, client, clock, standing, key)
        customer = first.customer()
        _revoked(first, customer)

    # A new process: what it refuses comes from its own table, read before the first request.
    app, standing, key, clock = build(settings, clock)
    with TestClient(app) as client:
        again = OrdersHarness(app, client, clock, standing, key)
        token = again.token(customer.account_id, customer.session_id)
        refused = client.get("/api/orders/orders", headers={"authorization": f"Bearer {token}"})
        _assert_session_revoked(refused)
        live = again.token(customer.account_id, uuid.uuid4().hex)
        assert client.get("/api/orders/orders", headers={"authorization": f"Bearer {live}"}).status_code == 200


def test_the_standing_check_names_the_session_and_auth_refusing_it_stops_the_order(orders: OrdersHarness) -> None:
    customer = orders.customer()
    assert _top_up(orders, customer).status_code == 201
    assert orders.standing.asked_sessions[-1] == customer.session_id

    orders.standing.end_session(customer.session_id)  # ended at auth, no event here yet
    _assert_session_revoked(_top_up(orders, customer))


def test_a_token_in_a_cookie_is_not_accepted(orders: OrdersHarness) -> None:
    customer = orders.customer()
    orders.client.cookies.set("mamori_access", customer.token)
    try:
        answer = orders.client.get("/api/orders/orders")
    finally:
        orders.client.cookies.clear()
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthenticated"


def test_a_malformed_revocation_changes_nothing(orders: OrdersHarness) -> None:
    customer = orders.customer()
    answer = orders.event(SESSION_REVOKED, {"account_id": customer.account_id, "session_ids": "everything"})
    assert answer.status_code == 422
    assert orders.client.get("/api/orders/orders", headers=customer.headers()).status_code == 200


def test_revocations_older_than_a_day_are_forgotten(orders: OrdersHarness) -> None:
    customer = orders.customer()
    _revoked(orders, customer)
    orders.clock.advance(days=1, minutes=1)
    orders.app.state.revocations.prune()
    assert not orders.app.state.revocations.is_revoked(customer.session_id)
