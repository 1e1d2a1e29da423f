"""Orchestration of a case's life: open or join, record a step, tell the customer, tell the others.

Every step that changes what the customer can do files a ``notify`` event (nobody is restricted
silently) and a timeline entry; opening, deciding and closing publish the contract's events, all in
the caller's transaction through the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mamori_common import contract
from mamori_common.card_numbers import ensure_no_card_number, ensure_no_card_numbers
from mamori_common.problems import Problem
from services.verification import catalogue
from services.verification.cases import checklist, notices, phones, service
from services.verification.cases.models import Case
from services.verification.cases.states import CaseAction, can
from services.verification.context import VerificationEnv

#: Kinds whose opening restricts the account until decided (auth reads ``restricts_account``).
RESTRICTING_KINDS = frozenset({"payment_verification"})


def plain(text: object, limit: int = 500) -> str:
    """Free text from elsewhere made safe for a message: no placeholders, bounded."""
    return str(text).replace("{", "(").replace("}", ")")[:limit]


def step(
    db: Session,
    env: VerificationEnv,
    case: Case,
    name: str,
    *,
    actor: str,
    channel: str,
    now: datetime,
    fields: dict[str, Any] | None = None,
    actor_id: str | None = None,
    tell: str | None = "update",
    details: dict[str, Any] | None = None,
) -> None:
    """Record step ``name`` on the timeline and, unless ``tell`` is None, message the customer."""
    fields = {key: plain(value) for key, value in (fields or {}).items()}
    text = catalogue.STEPS[name]
    service.record(
        case,
        at=now,
        actor=actor,
        actor_id=actor_id,
        channel=channel,
        kind=name,
        summary_ja=text.ja.format(**fields),
        summary_en=text.en.format(**fields),
        details=details,
    )
    if tell is not None:
        db.flush()
        env.outbox.publish(db, contract.NOTIFY, notices.notify_payload(case, name, tell, fields))


def open_case(
    db: Session,
    env: VerificationEnv,
    *,
    account_id: str,
    kind: contract.CaseKind,
    opening_step: str,
    actor: str,
    channel: str,
    now: datetime,
    case_id: str | None = None,
    reason: str = "",
    fields: dict[str, Any] | None = None,
    before_notice: Callable[[Case], None] | None = None,
) -> Case:
    """Open a case (under ``case_id`` when another service minted it), tell auth and the customer."""
    case = service.new_case(
        db,
        account_id=account_id,
        kind=kind,
        now=now,
        settings=env.settings,
        case_id=case_id,
        reason=reason,
        restricts_account=kind in RESTRICTING_KINDS,
    )
    if before_notice is not None:
        before_notice(case)
    db.flush()
    env.outbox.publish(
        db,
        contract.CASE_OPENED,
        contract.CaseOpened(
            case_id=case.id,
            case_number=case.number,
            account_id=account_id,
            kind=kind,
            restricts_account=case.restricts_account,
            reason=plain(reason),
        ).model_dump(),
    )
    step(db, env, case, opening_step, actor=actor, channel=channel, now=now, fields=fields, tell="opened")
    return case


def submit_if_complete(db: Session, env: VerificationEnv, case: Case, *, now: datetime, channel: str) -> None:
    """After the customer's input: a complete checklist goes to review (and the customer is told)."""
    if checklist.ready_for_review(case.items) and can(case.case_state, CaseAction.submit):
        service.move(case, CaseAction.submit, now)
        step(db, env, case, "submitted", actor="system", channel=channel, now=now)


def close(
    db: Session,
    env: VerificationEnv,
    case: Case,
    *,
    actor: str,
    channel: str,
    now: datetime,
    actor_id: str | None = None,
    closing_step: str = "closed",
) -> None:
    """Close without a decision on the account: auth lifts whatever this case restricted."""
    service.move(case, CaseAction.close, now)
    env.outbox.publish(
        db,
        contract.CASE_CLOSED,
        contract.CaseClosed(
            case_id=case.id,
            case_number=case.number,
            account_id=case.account_id,
            kind=case.kind,
        ).model_dump(),
    )
    step(db, env, case, closing_step, actor=actor, actor_id=actor_id, channel=channel, now=now)


def add_supplement(db: Session, env: VerificationEnv, *, account_id: str, case_id: str, item: str, value: str) -> Case:
    """A typed answer for an item the statement lacks; never a card number (refused, nothing kept)."""
    case = service.customer_case(db, account_id, case_id)
    service.ensure_accepts_input(case)
    entry = service.item(case, item)
    if item not in checklist.SUPPLEMENTABLE:
        raise Problem(422, "not_supplementable", "This item can only be met by a document.")
    ensure_no_card_number(value, "supplement")
    now = env.clock.now()
    service.set_item(entry, checklist.ItemStatus.received, now, source="supplement", value=value.strip())
    service.customer_input(case, now, env.settings)
    texts = catalogue.CHECKLIST_ITEMS[item].label
    step(
        db,
        env,
        case,
        "supplement_added",
        actor="customer",
        actor_id=account_id,
        channel="portal",
        now=now,
        fields={"item_ja": texts.ja, "item_en": texts.en},
        tell=None if checklist.ready_for_review(case.items) else "update",
    )
    submit_if_complete(db, env, case, now=now, channel="portal")
    return case


def request_callback(
    db: Session, env: VerificationEnv, *, account_id: str, case_id: str | None, phone: str, note: str
) -> Case:
    """Join the named case (404 if not the customer's) or open a callback case; either way staff owe a call.

    The phone and the note are checked before anything is read or written: a full card number in
    either is ``card_number_visible``, a phone that is not one ``invalid_phone`` (nothing kept).
    """
    ensure_no_card_numbers({"phone": phone, "note": note})
    details = {"phone": phones.callback_phone(phone), "note": note}
    now = env.clock.now()
    if case_id is not None:
        case = service.customer_case(db, account_id, case_id)
        if case.ended_at is not None:
            raise Problem(409, "case_not_open", "This case is closed; ask for a callback without a case.")
        case.needs_staff = True
        step(
            db,
            env,
            case,
            "callback_requested",
            actor="customer",
            actor_id=account_id,
            channel="portal",
            now=now,
            details=details,
        )
        return case
    case = open_case(
        db,
        env,
        account_id=account_id,
        kind="callback",
        opening_step="opened_callback",
        actor="customer",
        channel="portal",
        now=now,
        before_notice=lambda opened: setattr(opened, "needs_staff", True),
    )
    case.timeline[-1].details = details
    return case
