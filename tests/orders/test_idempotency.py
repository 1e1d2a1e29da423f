"""``Idempotency-Key`` on orders' unsafe calls (mamori_common/idempotency.py), and 50 parallel
cancels of one order over real HTTP (uvicorn in a thread), on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.orders.config import OrdersSettings
from services.orders.database import idempotency_keys
from services.orders.payments.models import SandboxOperation
from services.orders.refunds.models import Refund
from tests.orders.harness import OrdersHarness, build, card_tender, line
from tests.support.servers import serve


def test_a_replay_returns_the_first_answer_and_moves_no_money(orders: OrdersHarness) -> None:
    customer = orders.customer()
    first = orders.place(customer, [line("physical", 900)], [card_tender(900)], key="place-1")
    replay = orders.place(customer, [line("physical", 900)], [card_tender(900)], key="place-1")

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert len(orders.client.get("/api/orders/orders", headers=customer.headers()).json()["items"]) == 1


def test_a_key_reused_with_another_body_is_422_and_changes_nothing(orders: OrdersHarness) -> None:
    customer = orders.customer()
    orders.place(customer, [line("physical", 900)], [card_tender(900)], key="place-2")
    reused = orders.place(customer, [line("physical", 901)], [card_tender(901)], key="place-2")

    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    assert [
        order["total"] for order in orders.client.get("/api/orders/orders", headers=customer.headers()).json()["items"]
    ] == [900]


def test_a_refused_call_is_replayed_as_refused(orders: OrdersHarness) -> None:
    customer = orders.customer()
    order_id = orders.place(customer, [line("physical", 900)], [card_tender(900)]).json()["id"]
    orders.client.post(f"/api/orders/staff/orders/{order_id}/ship", headers=orders.staff())
    first = orders.client.post(f"/api/orders/orders/{order_id}/cancel", headers=customer.headers("cancel-x"))
    again = orders.client.post(f"/api/orders/orders/{order_id}/cancel", headers=customer.headers("cancel-x"))
    assert first.status_code == again.status_code == 409
    assert again.json() == first.json() and again.headers["content-type"].startswith("application/problem+json")


def test_keys_are_kept_24_hours_then_the_call_runs_again(orders: OrdersHarness) -> None:
    customer = orders.customer()
    order_id = orders.place(customer, [line("physical", 900)], [card_tender(900)]).json()["id"]
    first = orders.client.post(f"/api/orders/orders/{order_id}/cancel", headers=customer.headers("cancel-1"))
    orders.clock.advance(hours=23)
    within = orders.client.post(f"/api/orders/orders/{order_id}/cancel", headers=customer.headers("cancel-1"))
    orders.clock.advance(hours=2)
    after = orders.client.post(f"/api/orders/orders/{order_id}/cancel", headers=customer.headers("cancel-1"))

    assert first.status_code == within.status_code == 200 and within.json() == first.json()
    assert (after.status_code, after.json()["code"]) == (409, "already_cancelled"), "a new call, and no second refund"


def test_keys_belong_to_one_caller(orders: OrdersHarness) -> None:
    one, two = orders.customer(), orders.customer()
    a = orders.place(one, [line("physical", 900)], [card_tender(900)], key="same-key")
    b = orders.place(two, [line("physical", 900)], [card_tender(900)], key="same-key")
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]


def test_a_key_sent_again_on_another_operation_is_422_not_a_replay(orders: OrdersHarness) -> None:
    """As Stripe: a key names one request of its caller on every operation, so a client that
    reuses one by mistake learns it, and no answer of another operation is replayed as this one's."""
    customer = orders.customer()
    order_id = orders.place(customer, [line("physical", 900)], [card_tender(900)], key="one-request").json()["id"]
    reused = orders.client.post(f"/api/orders/orders/{order_id}/cancel", headers=customer.headers("one-request"))

    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    assert (
        orders.client.get(f"/api/orders/orders/{order_id}", headers=customer.headers()).json()["cancelled_at"] is None
    )


def test_the_contract_declares_what_a_key_may_answer(orders: OrdersHarness) -> None:
    document = orders.client.get("/openapi.json").json()
    keyed = [
        (path, operation)
        for path, item in document["paths"].items()
        for operation in item.values()
        if any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    ]
    assert len(keyed) >= 9
    for path, operation in keyed:
        assert "idempotency_in_progress" in operation["responses"]["409"]["description"], path
        assert "idempotency_key_reused" in operation["responses"]["422"]["description"], path


def test_an_unusable_key_is_refused(orders: OrdersHarness) -> None:
    customer = orders.customer()
    response = orders.place(customer, [line("physical", 900)], [card_tender(900)], key="x" * 300)
    assert response.status_code == 422


# --------------------------------------------------------------------------- 50 parallel cancels


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[tuple[OrdersHarness, str]]:
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_database")
    app, standing, key, clock = build(OrdersSettings(data_dir=data_dir, database_url=url))
    with TestClient(app) as client, serve(app) as server:
        yield OrdersHarness(app, client, clock, standing, key), server.url


def _cancel_fifty(url: str, order_id: str, headers: dict[str, str]) -> list[httpx.Response]:
    with httpx.Client(base_url=url, timeout=60, limits=httpx.Limits(max_connections=50)) as client:
        with ThreadPoolExecutor(max_workers=50) as pool:
            return list(
                pool.map(lambda _: client.post(f"/api/orders/orders/{order_id}/cancel", headers=headers), range(50))
            )


def _money_moved(harness: OrdersHarness, order_id: str) -> tuple[int, int]:
    with harness.app.state.db.session() as db:
        refunds = db.scalar(select(func.count()).select_from(Refund).where(Refund.order_id == order_id))
        provider_refunds = db.scalar(
            select(func.count()).select_from(SandboxOperation).where(SandboxOperation.kind == "refund")
        )
    return int(refunds or 0), int(provider_refunds or 0)


def test_fifty_parallel_cancels_without_a_key_make_exactly_one_refund(served: tuple[OrdersHarness, str]) -> None:
    harness, url = served
    customer = harness.customer()
    order_id = harness.place(customer, [line("physical", 5_000)], [card_tender(5_000)]).json()["id"]

    responses = _cancel_fifty(url, order_id, customer.headers())

    codes = Counter(response.status_code for response in responses)
    assert codes[200] == 1, codes
    assert all(response.json()["code"] == "already_cancelled" for response in responses if response.status_code != 200)
    assert _money_moved(harness, order_id) == (1, 1)


def test_fifty_parallel_cancels_with_one_key_make_exactly_one_refund(served: tuple[OrdersHarness, str]) -> None:
    harness, url = served
    customer = harness.customer()
    order_id = harness.place(customer, [line("physical", 5_000)], [card_tender(5_000)]).json()["id"]

    responses = _cancel_fifty(url, order_id, customer.headers("one-key"))

    assert {response.status_code for response in responses} <= {200, 409}
    successes = [response.json() for response in responses if response.status_code == 200]
    assert successes and all(body == successes[0] for body in successes), "every 200 is the same first answer"
    assert all(
        response.json()["code"] == "idempotency_in_progress" for response in responses if response.status_code == 409
    )
    assert _money_moved(harness, order_id) == (1, 1)


def test_a_key_holding_a_card_number_is_refused_and_nothing_is_kept(orders: OrdersHarness) -> None:
    """The key is stored as sent, so it may not be a card number (a client that keys by card)."""
    customer = orders.customer()
    for key in ("4556737586899855", "4556-7375-8689-9855"):
        refused = orders.place(customer, [line("physical", 900)], [card_tender(900)], key=key)
        assert refused.status_code == 422 and refused.json()["code"] == "card_number_visible", refused.text
        assert "4556" not in refused.text
    assert orders.client.get("/api/orders/orders", headers=customer.headers()).json()["items"] == []
    with orders.app.state.db.session() as db:
        assert db.scalar(select(func.count()).select_from(idempotency_keys)) == 0
