"""schemathesis against every orders operation, in-process through the ASGI app: no input, however
odd, gets a 5xx (a 5xx is always a bug). Calls carry a customer's token whose account may order,
with points and balance to spend (staff routes: a support token), so generated calls get past the
door and into the domain."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from services.orders.config import OrdersSettings
from tests.orders.harness import OrdersHarness, build

_directory = Path(tempfile.mkdtemp(prefix="orders-schemathesis-"))
app, standing, private_key, clock = build(OrdersSettings(data_dir=_directory))
_harness = OrdersHarness(app, None, clock, standing, private_key)  # type: ignore[arg-type]  # schemathesis calls the app: no client
customer = _harness.customer()
_harness.grant(customer.account_id, "points", 1_000_000)
_harness.grant(customer.account_id, "gift_balance", 1_000_000)

schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx(case: schemathesis.Case[Any]) -> None:
    token = _harness.token("staff-account", "staff-session", "support") if "/staff/" in case.path else customer.token
    response = case.call(headers={"authorization": f"Bearer {token}"})
    assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:500]}"
    if response.status_code >= 400:
        assert response.headers["content-type"][0].startswith("application/problem+json"), response.text[:300]
