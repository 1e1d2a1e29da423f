"""What auth does with verification's case events and orders' step-up request.

- ``case.opened`` with ``restricts_account``: the case's restriction is recorded;
- ``case.approved``, ``case.closed``: that case's restriction is lifted;
- ``case.rejected``: with ``close_account`` the account is closed and every session revoked,
  otherwise the case's restriction is lifted;
- ``account.stepup_required``: the next sign-in asks for a step-up, from any device.

Each is audited (actor ``system``) and applied once: the inbox records the event id in the same
transaction, and each effect is keyed by case id as well, so the same case announced twice, or a
lift that overtakes its opening, changes the standing once and in the right direction. An event
for an unknown account is logged and recorded, so its producer stops retrying it.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session as DbSession

from mamori_common import contract
from mamori_common.events import EventEnvelope, Subscription
from mamori_common.problems import Problem
from services.auth.accounts import service, standing
from services.auth.accounts.models import Account
from services.auth.accounts.standing import Actor, Transition
from services.auth.audit.service import record
from services.auth.messages.service import message_services
from services.auth.request_context import SYSTEM
from services.auth.sessions.service import revoke_sessions

logger = logging.getLogger("mamori.auth.accounts")

Payload = TypeVar("Payload", bound=BaseModel)


def _parse(envelope: EventEnvelope, model: type[Payload]) -> Payload:
    try:
        return model.model_validate(envelope.payload)
    except ValidationError as exc:
        raise Problem(
            422,
            "invalid_event_payload",
            f"The {envelope.type} payload does not fit the contract.",
            errors=[error["msg"] for error in exc.errors()],
        ) from exc


def _account(db: DbSession, envelope: EventEnvelope, account_id: str) -> Account | None:
    account = db.get(Account, account_id)
    if account is None:
        logger.warning(
            "case event for an unknown account",
            extra={"event_id": envelope.id, "event_type": envelope.type, "account_id": account_id},
        )
    return account


def _audit(
    db: DbSession, account: Account, kind: str, envelope: EventEnvelope, case_id: str | None, reason: str | None = None
) -> None:
    details = {"event_id": envelope.id, "event_type": envelope.type, "source": envelope.source}
    if case_id:
        details |= {"case_id": case_id, "case_number": contract.case_number(case_id)}
    record(
        db,
        account.id,
        kind,
        SYSTEM,
        at=message_services(db).clock.now(),
        actor="system",
        reason=reason,
        details=details,
    )


def handle_case_opened(db: DbSession, envelope: EventEnvelope) -> None:
    event = _parse(envelope, contract.CaseOpened)
    account = _account(db, envelope, event.account_id)
    if account is None or not event.restricts_account:
        return
    now = message_services(db).clock.now()
    if not standing.may_make(Transition.restrict, Actor.system, service.standing_for(db, account, now=now)):
        return  # a closed account stays closed; nothing to restrict
    if service.add_restriction(db, account, case_id=event.case_id, kind=event.kind, reason=event.reason, now=now):
        _audit(db, account, "account_restricted", envelope, event.case_id, event.reason or None)


def _lift(db: DbSession, envelope: EventEnvelope, account: Account, case_id: str, kind: str) -> None:
    now = message_services(db).clock.now()
    if service.lift_restriction(db, account, case_id=case_id, kind=kind, by=envelope.type, now=now):
        _audit(db, account, "restriction_lifted", envelope, case_id)


def handle_case_approved(db: DbSession, envelope: EventEnvelope) -> None:
    event = _parse(envelope, contract.CaseApproved)
    account = _account(db, envelope, event.account_id)
    if account is not None:
        _lift(db, envelope, account, event.case_id, event.kind)


def handle_case_closed(db: DbSession, envelope: EventEnvelope) -> None:
    event = _parse(envelope, contract.CaseClosed)
    account = _account(db, envelope, event.account_id)
    if account is not None:
        _lift(db, envelope, account, event.case_id, event.kind)


def handle_case_rejected(db: DbSession, envelope: EventEnvelope) -> None:
    event = _parse(envelope, contract.CaseRejected)
    account = _account(db, envelope, event.account_id)
    if account is None:
        return
    _lift(db, envelope, account, event.case_id, event.kind)
    if not event.close_account:
        return
    now = message_services(db).clock.now()
    if not standing.may_make(Transition.close, Actor.system, service.standing_for(db, account, now=now)):
        return  # closed already
    reason = event.reason_code or "verification_rejected"
    standing.close(account, case_id=event.case_id, reason=reason)
    revoked = revoke_sessions(db, account.id, now=now, reason="account_closed")
    _audit(db, account, "account_closed", envelope, event.case_id, reason)
    logger.info("account closed", extra={"account_id": account.id, "sessions_revoked": len(revoked)})


def handle_step_up_required(db: DbSession, envelope: EventEnvelope) -> None:
    event = _parse(envelope, contract.StepUpRequired)
    account = _account(db, envelope, event.account_id)
    if account is None:
        return
    account.step_up_reason = event.reason or "requested"
    account.step_up_case_id = event.case_id
    _audit(db, account, "step_up_requested", envelope, event.case_id, event.reason or None)


#: Cases are verification's to announce; a step-up request comes from orders.
CASE_EVENT_HANDLERS: dict[str, Subscription] = {
    contract.CASE_OPENED: Subscription(handle_case_opened, sources=("verification",)),
    contract.CASE_APPROVED: Subscription(handle_case_approved, sources=("verification",)),
    contract.CASE_REJECTED: Subscription(handle_case_rejected, sources=("verification",)),
    contract.CASE_CLOSED: Subscription(handle_case_closed, sources=("verification",)),
    contract.ACCOUNT_STEPUP_REQUIRED: Subscription(handle_step_up_required, sources=("orders",)),
}
