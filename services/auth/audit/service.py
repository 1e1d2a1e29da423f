"""Writing to the audit trail. Every security-relevant change calls :func:`record`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from mamori_common.pagination import Page, PageRequest, Position, paginate
from services.auth.audit.models import SecurityEvent
from services.auth.request_context import RequestContext


def record(
    db: DbSession,
    account_id: str,
    kind: str,
    context: RequestContext,
    *,
    at: datetime,
    actor: str = "customer",
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> SecurityEvent:
    event = SecurityEvent(
        account_id=account_id,
        at=at,
        kind=kind,
        actor=actor,
        reason=reason,
        ip=context.ip,
        country=context.country,
        device_id=context.device_id,
        details=details or {},
    )
    db.add(event)
    return event


def list_events(db: DbSession, account_id: str, page: PageRequest) -> tuple[Page[SecurityEvent], int]:
    """One page of the account's audit trail, newest first, and how many events there are in all."""
    events = paginate(
        db,
        select(SecurityEvent).where(SecurityEvent.account_id == account_id),
        page=page,
        scope=f"listSecurityEvents:{account_id}",
        order=(SecurityEvent.at, SecurityEvent.id),
        key=lambda event: Position(event.at, event.id),
    )
    total = db.scalar(select(func.count()).select_from(SecurityEvent).where(SecurityEvent.account_id == account_id))
    return events, int(total or 0)


def public_actor(actor: str) -> str:
    """The actor as the customer sees it: ``staff:<id>`` becomes ``staff`` (staff ids stay internal)."""
    return "staff" if actor.startswith("staff") else actor
