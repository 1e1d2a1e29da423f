"""Property (hypothesis, stateful): whatever sequence of cancels, returns, subscription ends,
"not mine" reports, intrusion clean-ups and provider failures, no tender gets back more than it
paid, refunds never exceed the order total, and the provider never refunds more than it captured."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func, select

from mamori_common import contract
from services.orders.config import OrdersSettings
from services.orders.ordering.models import Order
from services.orders.payments.models import SandboxAuthorisation
from services.orders.refunds.models import Refund, RefundPart
from tests.orders.harness import OrdersHarness, build, card_tender, line

_HARNESS: OrdersHarness | None = None


def harness() -> OrdersHarness:
    """One app for every example (each example works on an order of its own)."""
    global _HARNESS
    if _HARNESS is None:
        directory = Path(tempfile.mkdtemp(prefix="orders-property-"))
        app, standing, key, clock = build(OrdersSettings(data_dir=directory))
        _HARNESS = OrdersHarness(app, TestClient(app), clock, standing, key)
    return _HARNESS


KINDS = st.sampled_from(["physical", "digital", "subscription", "gift_card", "physical"])


class RefundMachine(RuleBasedStateMachine):
    @initialize(
        kinds=st.lists(KINDS, min_size=1, max_size=4),
        amounts=st.lists(st.integers(1, 20_000), min_size=4, max_size=4),
        points=st.integers(0, 3_000),
        balance=st.integers(0, 3_000),
    )
    def place(self, kinds: list[str], amounts: list[int], points: int, balance: int) -> None:
        self.h = harness()
        self.customer = self.h.customer(session_id=uuid.uuid4().hex)
        lines = [line(kind, amount) for kind, amount in zip(kinds, amounts, strict=False)]
        total = sum(item["unit_amount"] for item in lines)
        points, balance = min(points, total), min(balance, max(0, total - points))
        self.h.grant(self.customer.account_id, "points", points)
        self.h.grant(self.customer.account_id, "gift_balance", balance)
        tenders = [{"kind": "points", "amount": points}] if points else []
        tenders += [{"kind": "gift_balance", "amount": balance}] if balance else []
        if total - points - balance:
            tenders.append(card_tender(total - points - balance))
        response = self.h.place(self.customer, lines, tenders)
        assert response.status_code in (201, 202), response.text
        self.order = response.json()

    def _call(self, method: str, path: str, **kwargs: Any) -> None:
        response = self.h.client.request(method, path, headers=self.customer.headers(), **kwargs)
        assert response.status_code < 500, response.text

    @rule(data=st.data())
    def cancel_some_lines(self, data: st.DataObject) -> None:
        ids = [item["id"] for item in self.order["lines"]]
        chosen = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=len(ids), unique=True))
        self._call("POST", f"/api/orders/orders/{self.order['id']}/cancel", json={"line_ids": chosen})

    @rule()
    def cancel_everything(self) -> None:
        self._call("POST", f"/api/orders/orders/{self.order['id']}/cancel")

    @rule()
    def ship(self) -> None:
        response = self.h.client.post(f"/api/orders/staff/orders/{self.order['id']}/ship", headers=self.h.staff())
        assert response.status_code < 500

    @rule(data=st.data())
    def return_and_receive(self, data: st.DataObject) -> None:
        ids = [item["id"] for item in self.order["lines"]]
        chosen = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=len(ids), unique=True))
        response = self.h.client.post(
            f"/api/orders/orders/{self.order['id']}/returns", json={"line_ids": chosen}, headers=self.customer.headers()
        )
        assert response.status_code < 500
        if response.status_code == 201:
            received = self.h.client.post(
                f"/api/orders/staff/returns/{response.json()['id']}/receive", headers=self.h.staff()
            )
            assert received.status_code < 500

    @rule(days=st.integers(0, 40))
    def end_subscriptions(self, days: int) -> None:
        self.h.clock.advance(days=days)
        for subscription_id in self.order.get("subscription_ids", []):
            self._call("POST", f"/api/orders/subscriptions/{subscription_id}/cancel")

    @rule()
    def report_not_mine(self) -> None:
        self._call("POST", f"/api/orders/orders/{self.order['id']}/not-mine")

    @rule()
    def intrusion(self) -> None:
        response = self.h.event(
            contract.SESSION_COMPROMISED,
            {
                "account_id": self.customer.account_id,
                "case_id": uuid.uuid4().hex,
                "session_ids": [self.customer.session_id],
            },
        )
        assert response.status_code == 200

    @rule(times=st.integers(1, 3), timeout=st.booleans())
    def provider_fails(self, times: int, timeout: bool) -> None:
        self.h.app.state.payment_provider.fail_next("refund", times, timeout=timeout)

    @rule()
    def retry_payments_later(self) -> None:
        self.h.clock.advance(minutes=10)
        self.h.app.state.orders.settle()

    @invariant()
    def never_more_than_was_paid(self) -> None:
        if not hasattr(self, "order"):
            return
        with self.h.app.state.db.session() as db:
            order = db.get(Order, self.order["id"])
            assert order is not None
            for tender in order.tenders:
                assert 0 <= tender.refunded <= tender.captured <= tender.amount, tender.kind
                parts = db.scalar(
                    select(func.coalesce(func.sum(RefundPart.amount), 0)).where(RefundPart.tender_id == tender.id)
                )
                assert parts == tender.refunded, "every refunded yen is in exactly one refund part"
                if tender.authorisation_id:
                    provider = db.get(SandboxAuthorisation, tender.authorisation_id)
                    assert provider is not None and provider.refunded <= provider.captured <= provider.amount
            refunded = db.scalar(select(func.coalesce(func.sum(Refund.amount), 0)).where(Refund.order_id == order.id))
            assert refunded <= order.total


TestRefundProperties = RefundMachine.TestCase
TestRefundProperties.settings = settings(
    max_examples=40, stateful_step_count=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
