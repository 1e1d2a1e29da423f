"""One "not me" report per order (``services/orders/cancellation/not_mine.py``).

Three reports of one order used to open three cases, ask three step-ups and send six mails;
twenty at once opened twenty cases. Now every report of the order gets the first one's answer
(the same case id and number, the same refund) and only the first publishes anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from mamori_common import contract
from services.orders.config import OrdersSettings
from tests.orders.harness import OrdersHarness, build, card_tender, line
from tests.support.servers import ServerThread


def _published_once(orders: OrdersHarness, order_id: str) -> None:
    cases = orders.published(contract.ORDER_REPORTED_NOT_MINE)
    assert [event["order_id"] for event in cases] == [order_id], "one case"
    assert len(orders.published(contract.ACCOUNT_STEPUP_REQUIRED)) == 1, "one step-up"
    assert len(orders.published(contract.NOTIFY)) == 1, "one notice mail"


def test_repeated_reports_get_the_first_answer_and_publish_nothing_new(orders: OrdersHarness) -> None:
    customer = orders.customer()
    order = orders.place(customer, [line("digital", 1_200, "E-book")], [card_tender(1_200)]).json()
    answers = [
        orders.client.post(f"/api/orders/orders/{order['id']}/not-mine", headers=customer.headers()) for _ in range(3)
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 200], answers[0].text
    first = answers[0].json()
    assert first["case_number"] == contract.case_number(first["case_id"])
    for later in answers[1:]:
        body = later.json()
        assert (body["case_id"], body["actions"]) == (first["case_id"], first["actions"])
        # The same refund (its card part may have settled since the first answer).
        assert (body["refund"]["id"], body["refund"]["amount"]) == (first["refund"]["id"], 1_200)
    _published_once(orders, order["id"])
    (case_event,) = orders.published(contract.ORDER_REPORTED_NOT_MINE)
    assert case_event["case_id"] == first["case_id"], "verification opens the case under the id the customer got"
    refunds = orders.client.get("/api/orders/refunds", headers=customer.headers()).json()["items"]
    assert [(item["order_id"], item["amount"]) for item in refunds] == [(order["id"], 1_200)]


@pytest.fixture
def orders_on_postgres(data_dir: Path, postgres_database: str) -> Iterator[tuple[OrdersHarness, ServerThread]]:
    app, standing, key, clock = build(OrdersSettings(data_dir=data_dir, database_url=postgres_database))
    with TestClient(app) as client, ServerThread(app) as server:
        yield OrdersHarness(app, client, clock, standing, key), server


@pytest.mark.postgres
def test_twenty_concurrent_reports_open_one_case(orders_on_postgres: tuple[OrdersHarness, ServerThread]) -> None:
    orders, server = orders_on_postgres
    customer = orders.customer()
    order = orders.place(customer, [line("digital", 900, "E-book")], [card_tender(900)]).json()

    def report(_: int) -> httpx.Response:
        return httpx.post(
            f"{server.url}/api/orders/orders/{order['id']}/not-mine", headers=customer.headers(), timeout=60
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(report, range(20)))
    assert [answer.status_code for answer in answers] == [200] * 20, [a.text for a in answers if a.status_code != 200]
    assert len({answer.json()["case_id"] for answer in answers}) == 1
    _published_once(orders, order["id"])
