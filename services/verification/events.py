"""Where verification's events go, and what it does with the events it receives.

Every case another service announces is opened under that service's id when it carries one (so
the number the customer was already told is this case's), and an event about a case that already
exists joins it: redeliveries and the pair ``session.compromised`` + ``account.frozen`` (one
intrusion, one id) make one case.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from mamori_common import contract
from mamori_common.card_numbers import contains_card_number, mask_card_numbers
from mamori_common.events import EventEnvelope, Subscription
from mamori_common.problems import Problem
from services.verification import catalogue
from services.verification.cases import flows, service
from services.verification.cases.models import Case
from services.verification.context import VerificationEnv, env_of

logger = logging.getLogger("mamori.verification.events")

EVENT_ROUTES: dict[str, tuple[str, ...]] = {
    contract.CASE_OPENED: ("auth",),
    contract.CASE_APPROVED: ("auth", "orders"),
    contract.CASE_REJECTED: ("auth", "orders"),
    contract.CASE_CLOSED: ("auth",),
    contract.NOTIFY: ("auth",),
}

Payload = TypeVar("Payload", bound=BaseModel)


class _Announced(BaseModel):
    """What auth's lock and freeze events carry (beyond the contract's named models).

    Auth always names the case it minted; an announcement without one still opens a case (under
    an id minted here) rather than being refused for ever by the producer's retries.
    """

    case_id: str | None = Field(default=None, min_length=1, max_length=32)
    account_id: str = Field(min_length=1, max_length=64)
    reason: str = ""


def _parse(model: type[Payload], envelope: EventEnvelope) -> Payload:
    try:
        event = model.model_validate(envelope.payload)
    except ValidationError as exc:
        logger.warning("event refused", extra={"event_id": envelope.id, "type": envelope.type})
        raise Problem(422, "invalid_event_payload", f"The {envelope.type} payload is invalid.") from exc
    if len(getattr(event, "account_id", "")) > 64 or len(getattr(event, "case_id", None) or "") > 32:
        raise Problem(422, "invalid_event_payload", "An account id or case id is longer than ids are.")
    return _without_card_numbers(event)


#: The free text other services send that verification keeps (a case's reason, the holder name,
#: a timeline summary): it runs the same detector as every field, and a full card number in it is
#: masked, not refused. A refused event is retried and then parked, and with it the case it opens
#: and the restriction that case explains: the customer would be restricted with no word why.
#: (The producers refuse such text at their own door: orders checks what it is sent.) Ids and
#: ``details`` are left alone: a 32-digit hex id holds a Luhn-valid "card" about once in 4,000.
FREE_TEXT_FIELDS = ("reason", "holder_name", "summary_ja", "summary_en")


def _without_card_numbers(event: Payload) -> Payload:
    updates = {
        name: mask_card_numbers(value)
        for name in FREE_TEXT_FIELDS
        if isinstance(value := getattr(event, name, None), str) and contains_card_number(value)
    }
    return event.model_copy(update=updates) if updates else event


def _existing(db: Session, case_id: str | None, account_id: str) -> Case | None:
    if case_id is None:
        return None
    case = service.case_by_id(db, case_id)
    if case is not None and case.account_id != account_id:
        raise Problem(409, "case_of_another_account", "This case id belongs to another account.")
    return case


def on_account_locked(db: Session, envelope: EventEnvelope) -> None:
    event = _parse(_Announced, envelope)
    env = env_of(db)
    if _existing(db, event.case_id, event.account_id) is None:
        flows.open_case(
            db,
            env,
            account_id=event.account_id,
            kind="lockout",
            case_id=event.case_id,
            reason=event.reason,
            opening_step="opened_lockout",
            actor="auth",
            channel="event",
            now=env.clock.now(),
            fields={
                "reason_ja": catalogue.lock_reason(event.reason).ja,
                "reason_en": catalogue.lock_reason(event.reason).en,
            },
        )


def on_account_unlocked(db: Session, envelope: EventEnvelope) -> None:
    event = _parse(_Announced, envelope)
    env = env_of(db)
    case = _existing(db, event.case_id, event.account_id) or service.open_case_of_kind(db, event.account_id, "lockout")
    if case is None or case.ended_at is not None:
        return
    now = env.clock.now()
    flows.step(db, env, case, "unlocked", actor="auth", channel="event", now=now, tell=None)
    flows.close(db, env, case, actor="system", channel="event", now=now)


def _intrusion_case(db: Session, env: VerificationEnv, event: _Announced) -> Case:
    """Auth's freeze and its compromised sessions are one intrusion under one id, in either order."""
    case = _existing(db, event.case_id, event.account_id)
    if case is not None:
        return case
    return flows.open_case(
        db,
        env,
        account_id=event.account_id,
        kind="intrusion",
        case_id=event.case_id,
        reason=event.reason,
        opening_step="opened_intrusion",
        actor="auth",
        channel="event",
        now=env.clock.now(),
    )


def on_account_frozen(db: Session, envelope: EventEnvelope) -> None:
    event = _parse(_Announced, envelope)
    env = env_of(db)
    case = _intrusion_case(db, env, event)
    case.reason = flows.plain(event.reason, 2000)  # whichever of the pair came first, the freeze says why
    flows.step(
        db,
        env,
        case,
        "account_frozen",
        actor="auth",
        channel="event",
        now=env.clock.now(),
        fields={"reason": event.reason or "-"},
        tell=None,
    )


def on_session_compromised(db: Session, envelope: EventEnvelope) -> None:
    event = _parse(_Announced, envelope)
    sessions = envelope.payload.get("session_ids") or []
    env = env_of(db)
    case = _intrusion_case(db, env, event)
    flows.step(
        db,
        env,
        case,
        "session_compromised",
        actor="auth",
        channel="event",
        now=env.clock.now(),
        fields={"count": len(sessions) if isinstance(sessions, list) else 0},
        tell=None,
    )


def on_payment_held(db: Session, envelope: EventEnvelope) -> None:
    """Open a payment-verification case, or join the open one (a second held payment, one case)."""
    held = _parse(contract.PaymentHeld, envelope)
    env = env_of(db)
    now = env.clock.now()
    amount = {
        "amount_ja": catalogue.amount_text(held.amount, held.currency, "ja"),
        "amount_en": catalogue.amount_text(held.amount, held.currency, "en"),
    }
    case = service.open_case_of_kind(db, held.account_id, "payment_verification")
    if case is not None:
        if held.order_id not in case.order_ids:
            case.order_ids = [*case.order_ids, held.order_id]
            case.held_amount = (case.held_amount or 0) + held.amount
            flows.step(
                db,
                env,
                case,
                "joined_payment_verification",
                actor="orders",
                channel="event",
                now=now,
                fields=amount,
                details={"order_id": held.order_id, "reasons": held.reasons},
            )
        return

    def describe(opened: Case) -> None:
        opened.order_ids = [held.order_id]
        opened.card_last4 = held.card_last4 if held.card_last4 and len(held.card_last4) == 4 else None
        opened.holder_name = held.holder_name[:200] if held.holder_name else None
        opened.held_amount = held.amount
        opened.currency = held.currency[:3]

    flows.open_case(
        db,
        env,
        account_id=held.account_id,
        kind="payment_verification",
        reason=", ".join(held.reasons),
        opening_step="opened_payment_verification",
        actor="orders",
        channel="event",
        now=now,
        fields=amount,
        before_notice=describe,
    )


def on_order_reported_not_mine(db: Session, envelope: EventEnvelope) -> None:
    report = _parse(contract.OrderReportedNotMine, envelope)
    env = env_of(db)
    flows.open_case(
        db,
        env,
        account_id=report.account_id,
        kind="not_me",
        case_id=report.case_id,
        reason=f"order {report.order_id}",
        opening_step="opened_not_me",
        actor="orders",
        channel="event",
        now=env.clock.now(),
        fields={
            "actions_ja": catalogue.actions_text(report.actions, "ja"),
            "actions_en": catalogue.actions_text(report.actions, "en"),
        },
        before_notice=lambda opened: setattr(opened, "order_ids", [report.order_id]),
    )


def on_case_activity(db: Session, envelope: EventEnvelope) -> None:
    activity = _parse(contract.CaseActivity, envelope)
    case = _existing(db, activity.case_id, activity.account_id)
    if case is None:
        logger.warning("activity for an unknown case", extra={"event_id": envelope.id})
        return
    service.record(
        case,
        at=env_of(db).clock.now(),
        actor=envelope.source,
        channel="event",
        kind="activity",
        summary_ja=flows.plain(activity.summary_ja, 2000),
        summary_en=flows.plain(activity.summary_en, 2000),
        details=dict(activity.details),
    )


#: What verification applies, and from whom alone: account and session events are auth's, order
#: events orders' (a type from any other service is refused, 403).
EVENT_HANDLERS: dict[str, Subscription] = {
    contract.ACCOUNT_LOCKED: Subscription(on_account_locked, sources=("auth",)),
    contract.ACCOUNT_UNLOCKED: Subscription(on_account_unlocked, sources=("auth",)),
    contract.ACCOUNT_FROZEN: Subscription(on_account_frozen, sources=("auth",)),
    contract.SESSION_COMPROMISED: Subscription(on_session_compromised, sources=("auth",)),
    contract.PAYMENT_HELD: Subscription(on_payment_held, sources=("orders",)),
    contract.ORDER_REPORTED_NOT_MINE: Subscription(on_order_reported_not_mine, sources=("orders",)),
    contract.CASE_ACTIVITY: Subscription(on_case_activity, sources=("orders",)),
}
