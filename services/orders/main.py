"""The orders service: orders and tenders, risk holds, intrusion clean-up, cancellation, returns,
refunds split back to every tender, subscriptions and the 1-Click setting."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI

from mamori_common.app import ServiceSpec, create_service_app
from mamori_common.idempotency import purge_expired
from mamori_common.tokens import AccessTokenVerifier
from services.orders import context as orders_context
from services.orders.cancellation import views as cancellation_views
from services.orders.config import OrdersSettings
from services.orders.database import Base, idempotency_keys, inbox, outbox, revoked_sessions
from services.orders.events import EVENT_HANDLERS, EVENT_ROUTES
from services.orders.fulfilment import views as fulfilment_views
from services.orders.ledgers.models import LedgerEntry, LedgerHead  # noqa: F401  (registers the tables)
from services.orders.ordering import views as ordering_views
from services.orders.payments.models import PaymentTask, SandboxAuthorisation, SandboxOperation  # noqa: F401
from services.orders.payments.provider import PaymentProvider
from services.orders.payments.sandbox import SandboxProvider
from services.orders.refunds import views as refund_views
from services.orders.returns import views as return_views
from services.orders.returns.models import Return  # noqa: F401
from services.orders.standing import HttpStandingClient
from services.orders.subscriptions import views as subscription_views
from services.orders.subscriptions.models import Subscription  # noqa: F401

metadata = Base.metadata


async def payment_retry_job(app: FastAPI) -> None:
    """Card refunds, captures and voids the provider failed are retried until they succeed."""
    context: orders_context.OrdersContext = app.state.orders
    while True:
        await anyio.to_thread.run_sync(context.settle)
        await asyncio.sleep(context.settings.refund_retry_poll_seconds)


async def idempotency_purge_job(app: FastAPI) -> None:
    """Idempotency keys past their 24 hours are deleted hourly (a reused old key simply runs anew)."""
    context: orders_context.OrdersContext = app.state.orders

    def purge() -> None:
        with context.database.session() as db, db.begin():
            purge_expired(idempotency_keys, db, context.now())

    while True:
        await anyio.to_thread.run_sync(purge)
        await asyncio.sleep(3600)


SPEC = ServiceSpec(
    name="orders",
    title="Mamori orders",
    description=__doc__ or "",
    migrations_dir=Path(__file__).parent / "migrations",
    outbox_table=outbox,
    inbox_table=inbox,
    routers=(
        ordering_views.router,
        cancellation_views.router,
        return_views.router,
        refund_views.router,
        subscription_views.router,
        fulfilment_views.router,
    ),
    event_routes=EVENT_ROUTES,
    event_handlers=EVENT_HANDLERS,
    revocations_table=revoked_sessions,
    background_jobs=(payment_retry_job, idempotency_purge_job),
)


def create_app(
    settings: OrdersSettings | None = None, *, provider: PaymentProvider | None = None, **options: Any
) -> FastAPI:
    settings = settings or OrdersSettings()
    app = create_service_app(SPEC, settings, **options)
    app.state.token_verifier = AccessTokenVerifier.from_jwks_url(
        [f"{url}/api/auth/.well-known/jwks.json" for url in settings.upstreams("auth")], app.state.clock
    )
    app.state.standing = HttpStandingClient(
        app.state.replicas.of("auth"), app.state.service_key, settings.standing_timeout_seconds
    )
    context = orders_context.install(app, provider or SandboxProvider(app.state.db))
    app.state.after_event_applied = context.settle
    return app
