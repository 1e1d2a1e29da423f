"""What orders tells others: the customer (``notify``), cases (``case.activity``), auth, verification.

Each helper publishes in the caller's transaction (outbox), so an announcement leaves exactly
when the change it describes commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mamori_common import contract
from services.orders.catalogue import Notice
from services.orders.context import context_of


def notify(db: Session, account_id: str, notice: Notice, data: dict[str, Any] | None = None) -> None:
    """A message to the customer (auth files it in the message centre and mails it)."""
    payload = {"account_id": account_id, "template": "notice", "data": {**notice.model_dump(), **(data or {})}}
    context_of(db).outbox.publish(db, contract.NOTIFY, payload)


def case_activity(
    db: Session, case_id: str, account_id: str, summary_ja: str, summary_en: str, details: dict[str, Any] | None = None
) -> None:
    event = contract.CaseActivity(
        case_id=case_id, account_id=account_id, summary_ja=summary_ja, summary_en=summary_en, details=details or {}
    )
    context_of(db).outbox.publish(db, contract.CASE_ACTIVITY, event.model_dump(mode="json"))


def payment_held(db: Session, event: contract.PaymentHeld) -> None:
    context_of(db).outbox.publish(db, contract.PAYMENT_HELD, event.model_dump(mode="json"))


def reported_not_mine(db: Session, event: contract.OrderReportedNotMine) -> None:
    context_of(db).outbox.publish(db, contract.ORDER_REPORTED_NOT_MINE, event.model_dump(mode="json"))


def step_up_required(db: Session, event: contract.StepUpRequired) -> None:
    context_of(db).outbox.publish(db, contract.ACCOUNT_STEPUP_REQUIRED, event.model_dump(mode="json"))
