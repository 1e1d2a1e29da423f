"""Telling every other service that sessions ended, so their access tokens stop there at once.

Whatever ends a session (logout, "sign out everywhere", a freeze, a refresh-token reuse, a reset, an
unlock, a closed account) goes through :func:`services.auth.sessions.service.revoke_session` or
``revoke_sessions``, which call :func:`announce`: one ``session.revoked`` event in the same
transaction. The sessions table stays the truth: :func:`ended_since` answers the other services'
pull (``GET /internal/revocations``), which catches up whatever an event has not brought yet.
The outbox reaches the sessions through the session's ``info`` (set by :func:`install`), the way
the message centre is wired, so no caller of ``revoke_sessions`` has to carry it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session as DbSession

from mamori_common.contract import SESSION_REVOKED, Revocation, RevocationPage
from mamori_common.db import Database
from mamori_common.events import Outbox
from services.auth.sessions.models import Session

_OUTBOX_KEY = "mamori.auth.revocation_outbox"
#: Most ended sessions one pull answers; the caller asks again after the last one.
PAGE_SIZE = 500


def install(app: FastAPI) -> None:
    database: Database = app.state.db
    info = dict(database.sessions.kw.get("info") or {})
    info[_OUTBOX_KEY] = app.state.outbox
    database.sessions.configure(info=info)


def announce(db: DbSession, account_id: str, session_ids: Sequence[str], *, reason: str, now: datetime) -> None:
    """Queue ``session.revoked`` for these sessions in the caller's transaction.

    A database session made outside the app (a command-line tool) has no outbox: the pull, which
    reads the sessions table, still brings the revocation to every service within a second.
    """
    outbox: Outbox | None = db.info.get(_OUTBOX_KEY)
    if outbox is None or not session_ids:
        return
    payload = {
        "account_id": account_id,
        "session_ids": list(session_ids),
        "reason": reason,
        "revoked_at": now.isoformat(),
    }
    outbox.publish(db, SESSION_REVOKED, payload)


def ended_since(
    db: DbSession, since: datetime | None, after: str | None, *, now: datetime, horizon: timedelta
) -> RevocationPage:
    """Sessions ended after (``since``, ``after``), oldest first, never older than ``horizon``:
    an access token of a session ended before that has expired, whatever the caller missed."""
    floor = now - horizon
    if since is None or since < floor:
        since, after = floor, None
    later = Session.revoked_at > since
    if after is not None:
        later = or_(later, and_(Session.revoked_at == since, Session.id > after))
    rows = db.execute(
        select(Session.id, Session.account_id, Session.revoked_at)
        .where(Session.revoked_at.is_not(None), later)
        .order_by(Session.revoked_at, Session.id)
        .limit(PAGE_SIZE)
    ).all()
    return RevocationPage(
        revocations=[
            Revocation(session_id=sid, account_id=account, revoked_at=at) for sid, account, at in rows if at is not None
        ],
        more=len(rows) == PAGE_SIZE,
    )
