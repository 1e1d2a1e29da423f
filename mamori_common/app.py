"""The app factory every service builds on: one place for what all of them must do alike.

Problem responses, request ids, metrics, JSON logs, the quota limiter (``app.state.quotas``), body
limits and HEAD (``front_door``), body types and JSON
shape (``request_bodies``), ``/healthz`` (the process is up), ``/readyz`` (its database answers),
``/metrics`` (on the service's own port: no edge forwards it), the events inbox and the outbox dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from sqlalchemy import Table, text

from mamori_common import idempotency
from mamori_common.background import stop_tasks
from mamori_common.clock import Clock, SystemClock
from mamori_common.contract import SESSION_REVOKED
from mamori_common.db import Database
from mamori_common.events import BackoffPolicy, Outbox, OutboxDispatcher, Subscription, inbox_router
from mamori_common.front_door import FrontDoorMiddleware
from mamori_common.internal_http import ServiceReplicas
from mamori_common.migrations import upgrade
from mamori_common.observability import (
    NO_TELEMETRY,
    Metrics,
    RequestContextMiddleware,
    configure_logging,
    metrics_endpoint,
)
from mamori_common.pagination import cursor_signer
from mamori_common.problems import PROBLEM_RESPONSES, Problem, install_problem_handlers
from mamori_common.quotas import Quotas
from mamori_common.request_bodies import RequestBodyMiddleware
from mamori_common.revocations import RevocationFeed, RevokedSessions
from mamori_common.settings import CommonSettings, ServiceSettings


@dataclass
class ServiceSpec:
    """What distinguishes one service from another when its app is built."""

    name: str
    title: str
    description: str
    migrations_dir: Path
    outbox_table: Table
    inbox_table: Table
    routers: Sequence[APIRouter] = ()
    event_routes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: The event types it applies, each with the only services that may publish it.
    event_handlers: Mapping[str, Subscription] = field(default_factory=dict)
    #: Long-running jobs started with the app and cancelled when it stops (e.g. a mail sender).
    background_jobs: Sequence[Callable[[FastAPI], Coroutine[Any, Any, None]]] = ()
    #: Its ``revoked_sessions`` table (:func:`mamori_common.revocations.revocation_table`): the
    #: service refuses access tokens of ended sessions. None for auth, whose routes read the session.
    revocations_table: Table | None = None


def _readiness_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/readyz")
    def readyz(request: Request) -> JSONResponse:
        database: Database = request.app.state.db
        try:
            with database.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            raise Problem(503, "database_unavailable", f"The database does not answer: {type(exc).__name__}") from exc
        return JSONResponse({"status": "ready", "service": request.app.state.service_name, "database": "ok"})

    return router


def create_base_app(
    name: str,
    title: str,
    description: str,
    settings: CommonSettings,
    lifespan: Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """A FastAPI app with problem responses, request ids, metrics, ``/healthz`` and ``/metrics``."""
    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
        docs_url="/docs",
        redoc_url=None,
        telemetry=NO_TELEMETRY,
    )
    metrics = Metrics(name)
    app.state.service_name = name
    app.state.settings = settings
    app.state.metrics = metrics
    install_problem_handlers(app)
    app.add_middleware(RequestBodyMiddleware)  # inside the front door: a body is capped before it is parsed
    app.add_middleware(FrontDoorMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)  # outermost: ids on 413s too

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": name}

    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:  # built once; what the key may answer declared on it
            app.openapi_schema = idempotency.declare_answers(build_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def create_service_app(
    spec: ServiceSpec,
    settings: ServiceSettings,
    *,
    migrate: bool = False,
    clock: Clock | None = None,
    run_background: bool = True,
    backoff: BackoffPolicy | None = None,
) -> FastAPI:
    """Build a service's app. ``migrate`` applies its migrations first (tests, single-node runs)."""
    database_url = settings.resolved_database_url()
    if migrate:
        upgrade(spec.migrations_dir, database_url)
    database = Database(database_url)
    clock = clock or SystemClock()
    outbox = Outbox(spec.name, spec.outbox_table, spec.event_routes, clock)
    service_key = settings.resolved_service_key()
    replicas = ServiceReplicas.from_settings(settings)
    dispatcher = OutboxDispatcher(
        database=database,
        outbox=outbox,
        key=service_key,
        subscribers=replicas,
        poll_interval=settings.outbox_poll_interval,
        backoff=backoff or BackoffPolicy(),
        max_attempts=settings.outbox_max_attempts,
        max_age=timedelta(seconds=settings.outbox_max_age_seconds),
        clock=clock,
    )
    outbox.on_commit(dispatcher.wake)
    revoked = RevokedSessions(database, spec.revocations_table, clock) if spec.revocations_table is not None else None
    handlers = dict(spec.event_handlers)
    if revoked is not None:
        handlers[SESSION_REVOKED] = Subscription(revoked.handle_event, sources=("auth",))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(spec.name, settings.log_level)
        if revoked is not None:  # before the first request: a restart forgets no ended session
            await anyio.to_thread.run_sync(revoked.load)
        jobs = [job(app) for job in spec.background_jobs if run_background]
        if run_background and revoked is not None:
            feed = RevocationFeed(revoked, replicas.of("auth"), service_key, interval=settings.revocation_pull_seconds)
            jobs.append(feed.run_forever())
        if run_background and spec.event_routes:
            jobs.append(dispatcher.run_forever())
        tasks = [asyncio.create_task(job, name=getattr(job, "__qualname__", None)) for job in jobs]
        try:
            yield
        finally:
            await stop_tasks(tasks, grace_seconds=settings.shutdown_grace_seconds)
            database.dispose()

    app = create_base_app(spec.name, spec.title, spec.description, settings, lifespan)
    app.state.db = database
    app.state.outbox = outbox
    app.state.dispatcher = dispatcher
    #: Every other service's replicas and their health, for any internal call this one makes.
    app.state.replicas = replicas
    #: This service's own private key (signs its calls), and the others' public keys (check theirs).
    app.state.service_key = service_key
    app.state.service_keyring = settings.service_keyring()
    app.state.cursor_signer = cursor_signer(service_key)
    app.state.clock = clock
    #: Ended sessions whose access tokens ``require_principal`` refuses (None: the routes check).
    app.state.revocations = revoked
    dispatcher.parked_counter = Counter(
        "mamori_events_parked_total",
        "Events the dispatcher gave up on (listed by `mamori events`)",
        ["subscriber", "event_type"],
        registry=app.state.metrics.registry,
    )
    app.state.quotas = Quotas.from_url(
        settings.redis_url, settings.resolved_quota_key_prefix(), registry=app.state.metrics.registry, clock=clock
    )
    app.include_router(_readiness_router())
    app.include_router(inbox_router(spec.inbox_table, handlers))
    for router in spec.routers:
        app.include_router(router)
    return app
