"""The orders service: orders and tenders, risk holds, cancellation, returns and refunds.

Its domain arrives with its own issue; until then it runs, migrates, and records every event sent
to it in its inbox, so nothing auth publishes today (``session.compromised``) is lost.
"""

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mamori_common.app import ServiceSpec, create_service_app
from services.orders.config import OrdersSettings
from services.orders.database import Base, inbox, outbox

metadata = Base.metadata

SPEC = ServiceSpec(
    name="orders",
    title="Mamori orders",
    description="Orders and tenders, risk holds, cancellation, returns, refunds and subscriptions.",
    migrations_dir=Path(__file__).parent / "migrations",
    outbox_table=outbox,
    inbox_table=inbox,
)


def create_app(settings: OrdersSettings | None = None, **options: Any) -> FastAPI:
    return create_service_app(SPEC, settings or OrdersSettings(), **options)
