"""The specialist's side: the queue, reading a case for review, deciding it; support's notes.

Every staff action is audited in the case's timeline with the staff member's role and id (a view
of a case or a document, a decision, a note, an escalation); the customer sees the decisions and
escalations, not the audit lines or notes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, literal, or_, select, type_coerce
from sqlalchemy.orm import Session

from mamori_common import contract
from mamori_common.card_numbers import ensure_no_card_number
from mamori_common.db import UTCDateTime
from mamori_common.pagination import Page, PageRequest, Position, paginate
from mamori_common.tokens import Principal
from services.verification import catalogue
from services.verification.cases import checklist, notices
from services.verification.cases import flows as case_flows
from services.verification.cases import service as case_service
from services.verification.cases.models import Case, TimelineEntry
from services.verification.cases.states import OPEN_STATES, CaseAction, CaseState
from services.verification.context import VerificationEnv
from services.verification.review import decisions
from services.verification.review.schemas import DecisionRequest

#: Where a case with no promised time sorts in the queue: after every promise.
NO_PROMISE = datetime(9999, 12, 31, tzinfo=UTC)
_PROMISED = type_coerce(func.coalesce(Case.due_at, literal(NO_PROMISE, UTCDateTime())), UTCDateTime())


def queue(db: Session, page: PageRequest) -> Page[Case]:
    """Open cases staff owe a step on (in review, or a callback / escalation), soonest promise
    first, a page at a time (a busy day's queue is never one answer). A case whose promise moves
    while staff page (the customer sent something) sorts at its new time: it may show again later."""
    return paginate(
        db,
        select(Case)
        .where(Case.state.in_([state.value for state in OPEN_STATES]))
        .where(or_(Case.state == CaseState.in_review.value, Case.needs_staff.is_(True))),
        page=page,
        scope="listReviewQueue",
        order=(_PROMISED, Case.id),
        key=lambda case: Position(case.due_at or NO_PROMISE, case.id),
        descending=False,
    )


def changes_since_review(case: Case) -> list[TimelineEntry]:
    since = case.last_reviewed_at
    return [entry for entry in case.timeline if since is None or entry.at > since]


def audit(case: Case, staff: Principal, kind: str, ja: str, en: str, now: datetime, **details: object) -> None:
    case_service.record(
        case,
        at=now,
        actor=staff.role,
        actor_id=staff.account_id,
        channel="staff",
        kind=kind,
        summary_ja=ja,
        summary_en=en,
        visible_to_customer=False,
        details=dict(details),
    )


def open_for_review(db: Session, env: VerificationEnv, case: Case, staff: Principal) -> None:
    now = env.clock.now()
    audit(case, staff, "reviewed", "担当者がケースを確認", "Staff opened the case for review", now)
    case.last_reviewed_at = now


def decide(db: Session, env: VerificationEnv, case: Case, staff: Principal, body: DecisionRequest) -> decisions.Ruling:
    ensure_no_card_number(body.note, "note")
    now = env.clock.now()
    ruling = decisions.rule(
        body.decision,
        body.reason_code,
        rounds_used=case.rounds,
        rounds_allowed=env.settings.rounds_before_final_rejection,
        specialist_id=staff.account_id,
        proposed_by=case.rejection_proposed_by,
    )
    reason = catalogue.REASONS[body.reason_code].text
    audit(
        case,
        staff,
        "decision",
        f"判断: {body.decision}（{body.reason_code}）",
        f"Decision: {body.decision} ({body.reason_code})",
        now,
        note=body.note,
        reason_code=body.reason_code,
    )
    fields = {"reason_ja": reason.ja, "reason_en": reason.en}
    who: dict[str, Any] = {"actor": staff.role, "actor_id": staff.account_id, "channel": "staff", "now": now}
    case.last_reviewed_at = now
    if ruling.outcome is decisions.Outcome.approve:
        _approve(db, env, case, body, fields, who)
    elif ruling.outcome is decisions.Outcome.more_needed:
        case_service.move(case, CaseAction.request_more, now)
        case.rounds += 1
        case.rejection_proposed_by = None
        for item in case.items:
            if item.status == checklist.ItemStatus.received.value and body.reason_code in _ITEM_OF_REASON.get(
                item.code, ()
            ):
                case_service.set_item(item, checklist.ItemStatus.rejected, now, reason_code=body.reason_code)
        case_service.restart_promise(case, now, env.settings)
        case_flows.step(db, env, case, "more_needed", fields={**fields, "left": ruling.rounds_left}, **who)
    elif ruling.outcome is decisions.Outcome.propose_final_rejection:
        case.rejection_proposed_by = staff.account_id
        case.rejection_reason_code = body.reason_code
        case_flows.step(db, env, case, "rejection_proposed", tell=None, **who)
        case.timeline[-1].visible_to_customer = False
    else:
        _reject(db, env, case, body, fields, who)
    return ruling


#: Which checklist items a "more needed" reason sends back to the customer.
_ITEM_OF_REASON: dict[str, tuple[str, ...]] = {
    "statement": ("statement_unreadable", "statement_too_old", "card_last4_mismatch", "document_altered"),
    "billing_name": ("name_mismatch",),
    "billing_address": ("address_unverifiable",),
    "cardholder_phone": ("phone_unverifiable",),
}


def _approve(
    db: Session, env: VerificationEnv, case: Case, body: DecisionRequest, fields: dict[str, str], who: dict[str, Any]
) -> None:
    case_service.move(case, CaseAction.approve, who["now"])
    for item in case.items:
        case_service.set_item(item, checklist.ItemStatus.accepted, who["now"])
    env.outbox.publish(
        db,
        contract.CASE_APPROVED,
        contract.CaseApproved(
            case_id=case.id,
            case_number=case.number,
            account_id=case.account_id,
            kind=case.kind,
            order_ids=list(case.order_ids or []),
            order_action=body.order_action,
        ).model_dump(),
    )
    case_flows.step(db, env, case, "approved", tell=None, fields=fields, **who)
    steps = ["approved"]
    if case.order_ids:
        steps.append("orders_released" if body.order_action == "release" else "orders_cancelled")
        case_flows.step(db, env, case, steps[-1], tell=None, **who)
    _tell_decision(db, env, case, steps, fields)


def _reject(
    db: Session, env: VerificationEnv, case: Case, body: DecisionRequest, fields: dict[str, str], who: dict[str, Any]
) -> None:
    case_service.move(case, CaseAction.reject, who["now"])
    close_account = case.kind == "payment_verification"
    env.outbox.publish(
        db,
        contract.CASE_REJECTED,
        contract.CaseRejected(
            case_id=case.id,
            case_number=case.number,
            account_id=case.account_id,
            kind=case.kind,
            order_ids=list(case.order_ids or []),
            close_account=close_account,
            reason_code=body.reason_code,
        ).model_dump(),
    )
    case_flows.step(db, env, case, "rejected", tell=None, fields=fields, **who)
    steps = ["rejected"]
    if case.order_ids:
        case_flows.step(db, env, case, "orders_cancelled", tell=None, **who)
        steps.append("orders_cancelled")
    if close_account:
        case_flows.step(db, env, case, "account_closed", tell=None, **who)
        steps.append("account_closed")
    _tell_decision(db, env, case, steps, fields)


def _tell_decision(db: Session, env: VerificationEnv, case: Case, steps: list[str], fields: dict[str, str]) -> None:
    """One message for the decision, naming the reason and what happens to the orders and account."""
    payload = notices.notify_payload(case, steps[0], "decided", fields)
    for language in ("ja", "en"):
        extra = "\n".join(getattr(catalogue.STEPS[name], language).format(**fields) for name in steps[1:])
        if extra:
            payload["data"][f"body_{language}"] += "\n" + extra
    db.flush()
    env.outbox.publish(db, contract.NOTIFY, payload)


def add_note(db: Session, env: VerificationEnv, case: Case, staff: Principal, note: str) -> None:
    ensure_no_card_number(note, "note")
    audit(case, staff, "note", f"メモ: {note}", f"Note: {note}", env.clock.now())


def escalate(db: Session, env: VerificationEnv, case: Case, staff: Principal, note: str) -> None:
    """Support hands the case to specialists: same case, same timeline, the customer is told."""
    case_service.ensure_accepts_input(case)
    ensure_no_card_number(note, "note")
    now = env.clock.now()
    case.needs_staff = True
    audit(case, staff, "escalation_note", f"引き継ぎメモ: {note}", f"Hand-over note: {note}", now)
    case_flows.step(db, env, case, "escalated", actor=staff.role, actor_id=staff.account_id, channel="staff", now=now)
