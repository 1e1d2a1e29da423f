"""Routes of the audit domain: ``listSecurityEvents``, the customer's own audit trail."""

from __future__ import annotations

from fastapi import APIRouter

from mamori_common.db import SessionDep
from mamori_common.pagination import PAGE_RESPONSES, PageDep
from mamori_common.problems import PROBLEM_MEDIA_TYPE
from services.auth.audit import service
from services.auth.audit.models import SecurityEvent
from services.auth.audit.schemas import SecurityEventItem, SecurityEventList
from services.auth.deps import CurrentAccount

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _customer_view(event: SecurityEvent) -> SecurityEventItem:
    """A staff member shows as ``staff``: the customer learns that staff acted and why, not who."""
    return SecurityEventItem(
        id=event.id,
        at=event.at,
        kind=event.kind,
        ip=None if event.ip in (None, "", "-") else event.ip,
        country=event.country,
        device_id=event.device_id,
        actor=service.public_actor(event.actor),
        reason=event.reason,
    )


@router.get(
    "/security-events",
    operation_id="listSecurityEvents",
    response_model=SecurityEventList,
    summary="The signed-in customer's security events (sign-ins, changes, locks, freezes), newest first",
    responses={401: {"description": "Not signed in", "content": {PROBLEM_MEDIA_TYPE: {}}}, **PAGE_RESPONSES},
)
def list_security_events(
    account: CurrentAccount,
    db: SessionDep,
    page: PageDep,
) -> SecurityEventList:
    events, total = service.list_events(db, account.id, page)
    return SecurityEventList(items=[_customer_view(event) for event in events.items], total=total, next=events.next)
