"""What flows need besides a database session: settings, clock, outbox, payment provider.

Wired into every session of the app's database (``session.info``), so event handlers, which get
only a session, reach the same collaborators as routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.orm import Session

from mamori_common.clock import Clock
from mamori_common.db import Database
from mamori_common.events import Outbox
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
        return settle(self.database, self.provider, self.now(), order_ids=order_ids,
                      base_delay=self.settings.refund_retry_base_seconds,
                      max_delay=self.settings.refund_retry_max_seconds)


def install(app: FastAPI, provider: PaymentProvider) -> OrdersContext:
    context = OrdersContext(app.state.settings, app.state.clock, app.state.outbox, provider, app.state.db)
    app.state.orders = context
    app.state.payment_provider = provider
    info = dict(app.state.db.sessions.kw.get("info") or {})
    info[_KEY] = context
    app.state.db.sessions.configure(info=info)
    return context


def context_of(db: Session) -> OrdersContext:
    return db.info[_KEY]  # type: ignore[no-any-return]
