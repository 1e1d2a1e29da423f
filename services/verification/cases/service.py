"""Plain data functions on cases: find, open, record, move. No events, no messages (see flows)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mamori_common import contract
from mamori_common.pagination import Page, PageRequest, Position, paginate
from mamori_common.problems import Problem
from services.verification.cases import checklist
from services.verification.cases.models import Case, ChecklistItem, TimelineEntry, new_id
from services.verification.cases.states import ACCEPTS_CUSTOMER_INPUT, OPEN_STATES, CaseAction, next_state
from services.verification.config import VerificationSettings

#: Actor names that are people at the store; every other actor is the customer, the system or a service.
STAFF_ROLES = frozenset({"specialist", "support", "admin"})


def case_by_id(db: Session, case_id: str) -> Case | None:
    return db.get(Case, case_id)


def customer_case(db: Session, account_id: str, case_id: str) -> Case:
    """The customer's own case; another customer's (or no) case is the same 404."""
    case = db.get(Case, case_id) if len(case_id) <= 32 else None
    if case is None or case.account_id != account_id:
        raise Problem(404, "case_not_found", "There is no such case on your account.")
    return case


def staff_case(db: Session, case_id: str) -> Case:
    case = db.get(Case, case_id) if len(case_id) <= 32 else None
    if case is None:
        raise Problem(404, "case_not_found", "There is no such case.")
    return case


def cases_of(db: Session, account_id: str, page: PageRequest) -> Page[Case]:
    """One page of the customer's cases, newest first."""
    return paginate(
        db,
        select(Case).where(Case.account_id == account_id),
        page=page,
        scope=f"listCases:{account_id}",
        order=(Case.opened_at, Case.id),
        key=lambda case: Position(case.opened_at, case.id),
    )


def open_case_of_kind(db: Session, account_id: str, kind: str) -> Case | None:
    return db.scalars(
        select(Case)
        .where(Case.account_id == account_id, Case.kind == kind, Case.state.in_([s.value for s in OPEN_STATES]))
        .order_by(Case.opened_at)
        .limit(1)
    ).first()


def new_case(
    db: Session,
    *,
    account_id: str,
    kind: contract.CaseKind,
    now: datetime,
    settings: VerificationSettings,
    case_id: str | None = None,
    reason: str = "",
    restricts_account: bool = False,
) -> Case:
    """A case with its checklist and promised answer time; its number derived from its id.

    Two ids whose numbers collide (40 bits: rare, not impossible) must not share a number a person
    reads aloud: a minted id is re-drawn; an id another service announced is refused.
    """
    minted = case_id is None
    case_id = case_id or new_id()
    number = contract.case_number(case_id)
    while db.scalar(select(Case.id).where(Case.number == number)) is not None:
        if not minted:
            raise Problem(409, "case_number_taken", "This case number is already in use.")
        case_id = new_id()
        number = contract.case_number(case_id)
    case = Case(
        id=case_id,
        number=number,
        account_id=account_id,
        kind=kind,
        reason=reason[:2000],
        restricts_account=restricts_account,
        opened_at=now,
        updated_at=now,
        due_at=now + timedelta(hours=settings.answer_hours(kind)),
        order_ids=[],
    )
    case.items = [
        ChecklistItem(code=code, position=position, status=checklist.ItemStatus.missing.value)
        for position, code in enumerate(checklist.items_for(kind))
    ]
    db.add(case)
    return case


def record(
    case: Case,
    *,
    at: datetime,
    actor: str,
    channel: str,
    kind: str,
    summary_ja: str,
    summary_en: str,
    actor_id: str | None = None,
    visible_to_customer: bool = True,
    details: dict[str, Any] | None = None,
) -> TimelineEntry:
    """Add one entry to the case's timeline (every step, with who did it and through which channel)."""
    entry = TimelineEntry(
        at=at,
        actor=actor,
        actor_id=actor_id,
        channel=channel,
        kind=kind,
        summary_ja=summary_ja,
        summary_en=summary_en,
        visible_to_customer=visible_to_customer,
        details=details or {},
    )
    case.timeline.append(entry)
    case.updated_at = at
    return entry


def move(case: Case, action: CaseAction, now: datetime) -> None:
    """Apply a state-machine step (409 when the table refuses it)."""
    case.state = next_state(case.case_state, action).value
    case.updated_at = now
    if case.case_state not in OPEN_STATES and case.ended_at is None:
        case.ended_at = now
        case.due_at = None


def customer_input(case: Case, now: datetime, settings: VerificationSettings) -> None:
    """The customer sent something: the promised answer time counts from now."""
    case.last_customer_input_at = now
    restart_promise(case, now, settings)


def restart_promise(case: Case, now: datetime, settings: VerificationSettings) -> None:
    """The promised answer time: the kind's hours from now (the customer's input, or a request for more)."""
    case.due_at = now + timedelta(hours=settings.answer_hours(case.kind))
    case.updated_at = now


def item(case: Case, code: str) -> ChecklistItem:
    for candidate in case.items:
        if candidate.code == code:
            return candidate
    raise Problem(
        422,
        "unknown_checklist_item",
        f"This case has no checklist item {code!r}.",
        items=[candidate.code for candidate in case.items],
    )


def set_item(
    entry: ChecklistItem,
    status: checklist.ItemStatus,
    now: datetime,
    *,
    source: str | None = None,
    reason_code: str | None = None,
    value: str | None = None,
) -> None:
    entry.status = status.value
    entry.reason_code = reason_code
    entry.updated_at = now
    if source is not None:
        entry.source = source
    if value is not None:
        entry.value = value


def ensure_accepts_input(case: Case) -> None:
    """Documents, supplements and callbacks only while the case is open (409 once decided)."""
    if case.case_state not in ACCEPTS_CUSTOMER_INPUT:
        raise Problem(409, "case_not_open", "This case is decided or closed: it takes no more input.", state=case.state)
