"""What flows need besides a database session: settings, clock, outbox, payment provider.

Wired into every session of the app's database (``session.info``), so event handlers, which get
only a session, reach the same collaborators as routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from mamori_common.clock import Clock
from mamori_common.db import Database
from mamori_common.events import EventEnvelope, Outbox
from mamori_common.problems import Problem
from services.orders.config import OrdersSettings
from services.orders.payments.provider import PaymentProvider
from services.orders.payments.settlement import settle

_KEY = "mamori.orders.context"


@dataclass
class OrdersContext:
    settings: OrdersSettings
    clock: Clock
    outbox: Outbox
    provider: PaymentProvider
    database: Database

    def now(self) -> datetime:
        return self.clock.now()

    def settle(self, order_ids: list[str] | None = None) -> int:
        """Carry out due payment tasks now (after the commit that queued them)."""
        return settle(
            self.database,
            self.provider,
            self.now(),
            order_ids=order_ids,
            base_delay=self.settings.refund_retry_base_seconds,
            max_delay=self.settings.refund_retry_max_seconds,
        )


def install(app: FastAPI, provider: PaymentProvider) -> OrdersContext:
    context = OrdersContext(app.state.settings, app.state.clock, app.state.outbox, provider, app.state.db)
    app.state.orders = context
    app.state.payment_provider = provider
    info = dict(app.state.db.sessions.kw.get("info") or {})
    info[_KEY] = context
    app.state.db.sessions.configure(info=info)
    return context


Payload = TypeVar("Payload", bound=BaseModel)


def parse_event(model: type[Payload], envelope: EventEnvelope) -> Payload:
    """An event's payload as the contract describes it, or 422 (the producer's bug: nothing applied)."""
    try:
        return model.model_validate(envelope.payload)
    except ValidationError as exc:
        raise Problem(
            422,
            "invalid_event_payload",
            f"The {envelope.type} payload does not match the contract.",
            errors=[error["msg"] for error in exc.errors()],
        ) from exc


def context_of(db: Session) -> OrdersContext:
    return db.info[_KEY]
