"""Ended sessions, known to every service that checks access tokens: their tokens stop at once.

An access token lives ten minutes and every service verifies it itself, so without this a session
the owner ended (logout, "sign out everywhere", a freeze) kept ordering and reading cases until its
token expired. Each such service keeps the ids of ended sessions in a ``revoked_sessions`` table of
its own database and in memory (:class:`RevokedSessions`); :func:`mamori_common.tokens.require_principal`
refuses a token whose ``sid`` is there with ``401 session_revoked``. One lookup in a dict: nothing
on the request path waits for auth.

The table is fed two ways, and an id is recorded once whichever comes first:

- auth's ``session.revoked`` event (outbox → ``/internal/events``), which arrives within
  milliseconds of the commit, but only at one replica, and late when delivery lags;
- :class:`RevocationFeed`, a pull of auth's ``GET /internal/revocations?since=`` every
  ``MAMORI_REVOCATION_PULL_SECONDS`` (0.5 s) in every replica, which bounds the delay whatever the
  events do, and a re-read of the service's own table, which brings what another replica received.

At start the set is loaded from the table before the first request (a restart forgets nothing); while
auth is down the pull fails and is tried again, and the set keeps refusing what it holds. Ids are
kept ``KEEP`` (a day), far past the last token of an ended session (it cannot be refreshed).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import anyio
import httpx
from pydantic import ValidationError
from sqlalchemy import Column, Index, MetaData, String, Table, delete, select
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mamori_common.clock import Clock, SystemClock
from mamori_common.contract import REVOCATIONS_PATH, Revocation, RevocationPage, SessionRevoked
from mamori_common.db import Database, UTCDateTime
from mamori_common.events import EventEnvelope
from mamori_common.internal_http import send
from mamori_common.observability import outgoing_headers
from mamori_common.problems import Problem
from mamori_common.replicas import ReplicaSet
from mamori_common.service_auth import mint_service_token
from mamori_common.service_keys import ServiceKey

logger = logging.getLogger("mamori.revocations")

#: How long an ended session's id is kept: its last access token died long before.
KEEP = timedelta(days=1)
#: Each pull asks again from this far before the newest revocation it holds, so a session whose
#: ending committed after a later one was already pulled is not skipped (recording is idempotent).
OVERLAP = timedelta(seconds=30)


def revocation_table(metadata: MetaData) -> Table:
    """The ``revoked_sessions`` table, added to a service's own metadata."""
    return Table(
        "revoked_sessions",
        metadata,
        Column("session_id", String(64), primary_key=True),
        Column("account_id", String(64), nullable=False),
        #: When auth ended the session (auth's clock): the pull's cursor.
        Column("revoked_at", UTCDateTime, nullable=False),
        #: When this service learned of it (its own clock): what other replicas re-read.
        Column("recorded_at", UTCDateTime, nullable=False),
        Index("ix_revoked_sessions_revoked_at", "revoked_at"),
        Index("ix_revoked_sessions_recorded_at", "recorded_at"),
    )


class RevokedSessions:
    """The ended sessions one process refuses: its table, and a copy in memory checked per request."""

    def __init__(self, database: Database, table: Table, clock: Clock | None = None) -> None:
        self.database = database
        self.table = table
        self.clock = clock or SystemClock()
        self._revoked: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._synced_at: datetime | None = None

    def is_revoked(self, session_id: str) -> bool:
        """The per-request check: a dict lookup, no I/O."""
        return session_id in self._revoked

    def __len__(self) -> int:
        return len(self._revoked)

    def newest(self) -> datetime | None:
        """When the most recently ended session we hold was ended (the pull's cursor)."""
        with self._lock:
            return max(self._revoked.values(), default=None)

    def _remember(self, revocations: Iterable[Revocation]) -> None:
        with self._lock:
            for item in revocations:
                self._revoked[item.session_id] = item.revoked_at

    def load(self) -> int:
        """Read the table into memory (at start, before the first request): how many ids."""
        since = self.clock.now() - KEEP
        query = select(self.table.c.session_id, self.table.c.account_id, self.table.c.revoked_at).where(
            self.table.c.revoked_at >= since
        )
        with self.database.session() as db:
            rows = [Revocation(session_id=r[0], account_id=r[1], revoked_at=r[2]) for r in db.execute(query)]
        self._remember(rows)
        self._synced_at = self.clock.now()
        return len(rows)

    def record(self, db: Session, revocations: Iterable[Revocation]) -> None:
        """Add ended sessions to the table in the caller's transaction; to memory once it commits.

        Memory only after the commit, so whatever this process refuses is also in its table and
        is still refused after a restart. An id already recorded is left as it is.
        """
        # In one order whoever writes (an event here, a pull in another replica): two transactions
        # inserting the same ids in different orders could deadlock on PostgreSQL.
        items = sorted(revocations, key=lambda item: item.session_id)
        if not items:
            return
        now = self.clock.now()
        values = [
            {"session_id": i.session_id, "account_id": i.account_id, "revoked_at": i.revoked_at, "recorded_at": now}
            for i in items
        ]
        dialect = db.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        db.execute(insert(self.table).values(values).on_conflict_do_nothing(index_elements=["session_id"]))
        sa_event.listen(db, "after_commit", lambda _db: self._remember(items), once=True)

    def unknown(self, revocations: Iterable[Revocation]) -> list[Revocation]:
        """Those not held yet (a pull's overlap brings the same sessions again and again)."""
        return [item for item in revocations if item.session_id not in self._revoked]

    def sync(self) -> int:
        """Bring into memory what was recorded since the last sync (another replica's events)."""
        now = self.clock.now()
        since = (self._synced_at or now - KEEP) - OVERLAP
        query = select(self.table.c.session_id, self.table.c.account_id, self.table.c.revoked_at).where(
            self.table.c.recorded_at >= since
        )
        with self.database.session() as db:
            rows = [Revocation(session_id=r[0], account_id=r[1], revoked_at=r[2]) for r in db.execute(query)]
        self._remember(rows)
        self._synced_at = now
        return len(rows)

    def prune(self) -> None:
        """Forget sessions ended more than :data:`KEEP` ago, in the table and in memory."""
        cutoff = self.clock.now() - KEEP
        with self.database.session() as db, db.begin():
            db.execute(delete(self.table).where(self.table.c.revoked_at < cutoff))
        with self._lock:
            for session_id in [sid for sid, at in self._revoked.items() if at < cutoff]:
                del self._revoked[session_id]

    def handle_event(self, db: Session, envelope: EventEnvelope) -> None:
        """The ``session.revoked`` handler (inbox): recorded in the inbox's transaction."""
        try:
            event = SessionRevoked.model_validate(envelope.payload)
        except ValidationError as exc:
            raise Problem(
                422, "invalid_event_payload", "The session.revoked payload does not match the contract."
            ) from exc
        self.record(
            db,
            (
                Revocation(session_id=sid, account_id=event.account_id, revoked_at=event.revoked_at)
                for sid in event.session_ids
            ),
        )


@dataclass
class RevocationFeed:
    """Pulls auth's list of ended sessions into :class:`RevokedSessions`, in every replica."""

    revoked: RevokedSessions
    auth: ReplicaSet
    #: This service's own private key: auth lists ended sessions only to the services it allows.
    key: ServiceKey
    interval: float = 0.5
    timeout: float = 2.0
    client: httpx.AsyncClient | None = None
    _pulls: int = field(default=0, init=False)

    async def pull_once(self, client: httpx.AsyncClient) -> int:
        """Ask auth for every session ended since our newest (less :data:`OVERLAP`); how many came."""
        newest = self.revoked.newest()
        params: dict[str, str] = {"since": (newest - OVERLAP).isoformat()} if newest else {}
        count = 0
        while True:
            token = mint_service_token(self.key, "auth")
            response = await send(
                client,
                self.auth,
                "GET",
                REVOCATIONS_PATH,
                params=params,
                headers=outgoing_headers({"authorization": f"Bearer {token}"}),
                timeout=self.timeout,
            )
            response.raise_for_status()
            page = RevocationPage.model_validate(response.json())
            if page.revocations:
                await anyio.to_thread.run_sync(self._record, page.revocations)
                count += len(page.revocations)
            if not page.more or not page.revocations:
                return count
            last = page.revocations[-1]
            params = {"since": last.revoked_at.isoformat(), "after": last.session_id}

    def _record(self, revocations: list[Revocation]) -> None:
        fresh = self.revoked.unknown(revocations)
        if fresh:
            with self.revoked.database.session() as db, db.begin():
                self.revoked.record(db, fresh)

    async def run_forever(self) -> None:
        owns_client = self.client is None
        client = self.client or httpx.AsyncClient(timeout=self.timeout)
        failing = table_failing = False
        try:
            while True:
                try:
                    await self.pull_once(client)
                    if failing:
                        logger.info("revocations pulled from auth again")
                    failing = False
                except Exception as exc:  # auth or the database is down: what is in memory holds
                    if not failing:  # once per outage, not twice a second
                        logger.warning("revocations could not be pulled from auth", extra={"error": repr(exc)})
                    failing = True
                try:
                    await anyio.to_thread.run_sync(self.revoked.sync)
                    self._pulls += 1
                    if self._pulls % 7200 == 0:  # about hourly at the default interval
                        await anyio.to_thread.run_sync(self.revoked.prune)
                    table_failing = False
                except Exception as exc:  # the database may be briefly unreachable; what is in memory holds
                    if not table_failing:
                        logger.warning("revocations could not be read from the table", extra={"error": repr(exc)})
                    table_failing = True
                await asyncio.sleep(self.interval)
        finally:
            if owns_client:
                await client.aclose()
