"""Events between services: a transactional outbox, HTTP delivery, an idempotent inbox.

A producer writes its events into its own ``outbox`` table in the same transaction as the change
they describe, one row per subscriber, so a rolled-back change never sends an event and a
committed one is never forgotten. A dispatcher running inside every replica claims due rows with
a lease (:mod:`mamori_common.leases`, shared with auth's mail sender), posts them to
the subscriber's ``/internal/events`` with a service token, and marks them delivered, or
schedules a retry with capped exponential backoff, all on the app clock. A row that still fails
after ``max_attempts`` tries, or once older than ``max_age``, is parked (``parked_at``): no more
tries, ``mamori_events_parked_total`` counts it and ``mamori events`` lists it for an operator.
The consumer records each applied event in its ``inbox``, keyed by (source, event id) since each
publisher chooses its own ids, in the same transaction as the effect, so a redelivery changes nothing.

Each consumer lists the event types it applies and, for each, the only services that may publish
it (:class:`Subscription`, next to the handler in the service's ``events.py``). The delivery's
service token proves the source (each service signs with its own key,
:mod:`mamori_common.service_auth`); a type from a source not on its list, or a type the consumer
does not take, is refused with ``403 event_source_not_allowed`` and nothing is recorded.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio
import httpx
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import (
    JSON,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mamori_common.background import Doorbell
from mamori_common.clock import Clock, SystemClock
from mamori_common.db import Database, SessionDep, UTCDateTime, utcnow
from mamori_common.internal_http import ServiceReplicas, send
from mamori_common.leases import claim_batch
from mamori_common.observability import outgoing_headers
from mamori_common.problems import Problem
from mamori_common.service_auth import authenticated_service, mint_service_token, service_caller
from mamori_common.service_keys import ServiceKey

logger = logging.getLogger("mamori.events")


def event_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The ``outbox`` and ``inbox`` tables, added to a service's own metadata."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(32), nullable=False),
        Column("event_type", String(64), nullable=False),
        Column("subscriber", String(32), nullable=False),
        Column("payload", JSON, nullable=False),
        Column("occurred_at", UTCDateTime, nullable=False),
        Column("available_at", UTCDateTime, nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("claimed_until", UTCDateTime, nullable=True),
        Column("claim_token", String(32), nullable=True),
        Column("delivered_at", UTCDateTime, nullable=True),
        Column("last_error", Text, nullable=True),
        #: Given up on (too many attempts, or too old): an operator looks at it (``mamori events``).
        Column("parked_at", UTCDateTime, nullable=True),
        Index("ix_outbox_due", "delivered_at", "available_at"),
        Index("ix_outbox_event", "event_id", "subscriber", unique=True),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("source", String(32), primary_key=True),
        Column("event_id", String(32), primary_key=True),
        Column("event_type", String(64), nullable=False),
        Column("payload", JSON, nullable=False),
        Column("occurred_at", UTCDateTime, nullable=False),
        Column("received_at", UTCDateTime, nullable=False),
        Column("handled", Integer, nullable=False, default=0),
    )
    return outbox, inbox


class EventEnvelope(BaseModel):
    """What travels over the wire."""

    id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    type: str = Field(min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=32)
    occurred_at: datetime
    payload: dict[str, Any]


EventHandler = Callable[[Session, EventEnvelope], None]


@dataclass(frozen=True)
class Subscription:
    """An event type a service applies: what it does with it, and who may publish it."""

    handler: EventHandler
    #: The only services whose events of this type are applied (the producer's own key proves it).
    sources: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.sources:
            raise ValueError("a subscription names the services that may publish the event")


class Outbox:
    """A service's publishing side: which subscribers each event type goes to."""

    def __init__(
        self, service: str, table: Table, routes: Mapping[str, Sequence[str]], clock: Clock | None = None
    ) -> None:
        self.service = service
        self.table = table
        self.routes = routes
        self.clock = clock or SystemClock()
        self._listeners: list[Callable[[], None]] = []

    def on_commit(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def publish(
        self, session: Session, event_type: str, payload: dict[str, Any], *, event_id: str | None = None
    ) -> str:
        """Queue an event in the caller's transaction; it leaves only if that transaction commits."""
        subscribers = self.routes.get(event_type)
        if not subscribers:
            raise ValueError(f"{self.service} has no subscribers for event type {event_type!r}")
        event_id = event_id or uuid.uuid4().hex
        now = self.clock.now()
        session.execute(
            insert(self.table),
            [
                {
                    "event_id": event_id,
                    "event_type": event_type,
                    "subscriber": subscriber,
                    "payload": payload,
                    "occurred_at": now,
                    "available_at": now,
                    "attempts": 0,
                }
                for subscriber in subscribers
            ],
        )
        if self._listeners:
            sa_event.listen(session, "after_commit", self._notify_listeners, once=True)
        return event_id

    def _notify_listeners(self, _session: Session) -> None:
        for listener in self._listeners:
            listener()


@dataclass
class BackoffPolicy:
    """How long a failed delivery waits before the next try: doubling, capped, jittered."""

    base_seconds: float = 0.5
    max_seconds: float = 60.0

    def delay(self, attempts: int) -> float:
        raw = min(self.max_seconds, self.base_seconds * (2 ** max(0, attempts - 1)))
        return raw * random.uniform(0.5, 1.0)


@dataclass
class _Claimed:
    id: int
    event_id: str
    event_type: str
    subscriber: str
    payload: dict[str, Any]
    occurred_at: datetime
    attempts: int


@dataclass
class OutboxDispatcher:
    """Delivers a service's outbox; safe to run in every replica at once."""

    database: Database
    outbox: Outbox
    #: This service's own private key: each delivery's token proves the event's source.
    key: ServiceKey
    #: Every replica of every subscriber: a delivery goes to any of them, and on to the next
    #: when one is down (a redelivery changes nothing, so even a 5xx may be tried elsewhere).
    subscribers: ServiceReplicas
    poll_interval: float = 0.5
    batch_size: int = 50
    lease_seconds: float = 30.0
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    timeout_seconds: float = 5.0
    #: After this many failed deliveries, or once this old, an event is parked (no more tries).
    max_attempts: int = 25
    max_age: timedelta = timedelta(days=3)
    clock: Clock = field(default_factory=SystemClock)
    #: Counts parked events (``mamori_events_parked_total``); None: not exported.
    parked_counter: Any = None
    client: httpx.AsyncClient | None = None
    _doorbell: Doorbell = field(default_factory=Doorbell)

    def wake(self) -> None:
        """Called after a commit that queued events (from any thread): deliver now, not at the next poll.

        A dispatcher that is not running (not started yet, or its app has stopped) has nothing to
        wake: the events wait in the outbox for the next one. This runs inside the caller's
        ``after_commit``, so it never raises: the change is committed by then.
        """
        self._doorbell.ring()

    async def run_forever(self) -> None:
        self._doorbell.listen()
        owns_client = self.client is None
        client = self.client or httpx.AsyncClient(timeout=self.timeout_seconds)
        try:
            while True:
                try:
                    handled = await self.dispatch_once(client)
                except Exception:  # the database may be briefly unreachable; keep going
                    logger.exception("outbox dispatch failed")
                    handled = 0
                if handled == 0:
                    await self._doorbell.wait(self.poll_interval)
        finally:
            self._doorbell.close()
            if owns_client:
                await client.aclose()

    async def dispatch_once(self, client: httpx.AsyncClient) -> int:
        claim_token = uuid.uuid4().hex
        claimed = await anyio.to_thread.run_sync(self._claim, claim_token)
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._deliver(client, item) for item in claimed))
        await anyio.to_thread.run_sync(self._record, claim_token, list(zip(claimed, outcomes, strict=False)))
        return len(claimed)

    def _claim(self, claim_token: str) -> list[_Claimed]:
        table = self.outbox.table
        now = self.clock.now()
        due = (
            table.c.delivered_at.is_(None),
            table.c.parked_at.is_(None),
            table.c.available_at <= now,
            (table.c.claimed_until.is_(None)) | (table.c.claimed_until < now),
        )
        rows = claim_batch(
            self.database,
            table,
            key=table.c.id,
            due=due,
            order_by=(table.c.id,),
            batch_size=self.batch_size,
            lease={"claimed_until": now + timedelta(seconds=self.lease_seconds), "claim_token": claim_token},
            returning=(
                table.c.id,
                table.c.event_id,
                table.c.event_type,
                table.c.subscriber,
                table.c.payload,
                table.c.occurred_at,
                table.c.attempts,
            ),
        )
        return sorted((_Claimed(*row) for row in rows), key=lambda item: item.id)

    async def _deliver(self, client: httpx.AsyncClient, item: _Claimed) -> str | None:
        """None when the subscriber took the event, else why it did not."""
        envelope = {
            "id": item.event_id,
            "type": item.event_type,
            "source": self.outbox.service,
            "occurred_at": item.occurred_at.isoformat(),
            "payload": item.payload,
        }
        token = mint_service_token(self.key, item.subscriber)
        try:
            response = await send(
                client,
                self.subscribers.of(item.subscriber),
                "POST",
                "/internal/events",
                retry_in_flight=True,
                json=envelope,
                headers=outgoing_headers({"authorization": f"Bearer {token}"}),
                timeout=self.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}: {response.text[:400]}"

    def should_park(self, attempts: int, occurred_at: datetime, now: datetime) -> bool:
        """Give up after ``max_attempts`` failed deliveries or once the event is ``max_age`` old."""
        return attempts >= self.max_attempts or now - occurred_at >= self.max_age

    def _record(self, claim_token: str, outcomes: list[tuple[_Claimed, str | None]]) -> None:
        table = self.outbox.table
        now = self.clock.now()
        with self.database.session() as session, session.begin():
            for item, error in outcomes:
                mine = (table.c.id == item.id) & (table.c.claim_token == claim_token)
                if error is None:
                    values: dict[str, Any] = {"delivered_at": now, "claimed_until": None, "last_error": None}
                else:
                    attempts = item.attempts + 1
                    values = {
                        "attempts": attempts,
                        "available_at": now + timedelta(seconds=self.backoff.delay(attempts)),
                        "claimed_until": None,
                        "last_error": error,
                    }
                    if self.should_park(attempts, item.occurred_at, now):
                        values["parked_at"] = now
                        if self.parked_counter is not None:
                            self.parked_counter.labels(item.subscriber, item.event_type).inc()
                        logger.error(
                            "event parked",
                            extra={"event_id": item.event_id, "subscriber": item.subscriber, "attempts": attempts},
                        )
                    logger.warning(
                        "event delivery failed",
                        extra={"event_id": item.event_id, "subscriber": item.subscriber, "error": error},
                    )
                session.execute(update(table).where(mine).values(**values))


class DeliveryResult(BaseModel):
    status: str
    event_id: str


def inbox_router(inbox: Table, subscriptions: Mapping[str, Subscription]) -> APIRouter:
    """The ``/internal/events`` route a service receives events on."""
    router = APIRouter(include_in_schema=False)
    #: Any service that publishes at least one of the types taken here may deliver; which types
    #: it may deliver is the subscription's list, checked per event below.
    sources = sorted({source for item in subscriptions.values() for source in item.sources})
    # A default, not an ``Annotated`` alias: this module's annotations are strings, and FastAPI
    # resolves them in the module's globals, where a local alias would not be found.
    publisher = Depends(service_caller(*sources) if sources else authenticated_service)

    @router.post("/internal/events", response_model=DeliveryResult)
    def receive_event(
        envelope: EventEnvelope, session: SessionDep, request: Request, caller: str = publisher
    ) -> DeliveryResult:
        if caller != envelope.source:
            raise Problem(403, "wrong_event_source", "A service may only deliver its own events.")
        subscription = subscriptions.get(envelope.type)
        if subscription is None or caller not in subscription.sources:
            raise Problem(
                403, "event_source_not_allowed", f"This service does not take {envelope.type!r} events from {caller}."
            )
        seen = (inbox.c.source == envelope.source) & (inbox.c.event_id == envelope.id)
        already = session.execute(select(inbox.c.event_id).where(seen)).first()
        if already:
            return DeliveryResult(status="duplicate", event_id=envelope.id)
        handler = subscription.handler
        try:
            session.execute(
                insert(inbox).values(
                    event_id=envelope.id,
                    source=envelope.source,
                    event_type=envelope.type,
                    payload=envelope.payload,
                    occurred_at=envelope.occurred_at,
                    received_at=utcnow(),
                    handled=1,
                )
            )
            handler(session, envelope)
            session.commit()
        except IntegrityError:
            session.rollback()
            if session.execute(select(inbox.c.event_id).where(seen)).first():
                return DeliveryResult(status="duplicate", event_id=envelope.id)
            raise
        after_apply = getattr(request.app.state, "after_event_applied", None)
        if after_apply is not None:
            after_apply()
        return DeliveryResult(status="applied", event_id=envelope.id)

    return router


def parked_events(database: Database, table: Table, *, limit: int = 100) -> list[dict[str, Any]]:
    """Events the dispatcher gave up on, newest first: what ``mamori events`` lists."""
    query = (
        select(
            table.c.event_id,
            table.c.event_type,
            table.c.subscriber,
            table.c.attempts,
            table.c.occurred_at,
            table.c.parked_at,
            table.c.last_error,
        )
        .where(table.c.parked_at.is_not(None))
        .order_by(table.c.parked_at.desc(), table.c.id.desc())
        .limit(limit)
    )
    with database.session() as session:
        return [dict(row._mapping) for row in session.execute(query)]
