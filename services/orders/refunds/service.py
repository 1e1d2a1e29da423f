"""Issuing a refund on an order: split it, credit ledgers at once, queue the card part."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mamori_common.pagination import Page, PageRequest, Position, paginate
from services.orders.ledgers import service as ledgers
from services.orders.ordering.models import Order, TenderKind
from services.orders.payments.models import TaskAction
from services.orders.payments.settlement import queue_task
from services.orders.refunds.models import Refund, RefundPart
from services.orders.refunds.split import split_refund


def refundable(order: Order) -> dict[str, int]:
    """What each tender still holds, in payment order."""
    return {tender.kind: tender.captured - tender.refunded for tender in order.tenders}


def issue_refund(
    db: Session, order: Order, amount: int, reason: str, now: datetime, preferred: tuple[str, ...]
) -> Refund | None:
    """Refund ``amount`` (capped at what the tenders hold: an uncaptured card has nothing to give back,
    it is voided instead). The caller holds the order's lock and commits. None when nothing is due."""
    amount = min(amount, sum(refundable(order).values()))
    if amount <= 0:
        return None
    parts = split_refund(amount, refundable(order), preferred)
    refund = Refund(order_id=order.id, account_id=order.account_id, reason=reason, amount=amount, created_at=now)
    db.add(refund)
    db.flush()
    tenders = {tender.kind: tender for tender in order.tenders}
    for position, (kind, part_amount) in enumerate(parts.items()):
        tender = tenders[kind]
        tender.refunded += part_amount
        is_card = kind == TenderKind.card
        part = RefundPart(
            refund_id=refund.id,
            position=position,
            tender_id=tender.id,
            tender_kind=kind,
            amount=part_amount,
            state="pending" if is_card else "done",
            settled_at=None if is_card else now,
        )
        db.add(part)
        db.flush()
        if is_card:
            queue_task(db, tender, TaskAction.refund, part_amount, now, refund_part_id=part.id)
        else:
            ledgers.credit(db, order.account_id, kind, part_amount, f"refund:{reason}", now, order_id=order.id)
    db.flush()
    db.refresh(refund)
    return refund


def refunds_page(db: Session, account_id: str, page: PageRequest, order_id: str | None = None) -> Page[Refund]:
    """One page of the customer's refunds (of one order, if given), oldest first."""
    query = select(Refund).where(Refund.account_id == account_id)
    if order_id is not None:
        query = query.where(Refund.order_id == order_id)
    return paginate(
        db,
        query,
        page=page,
        scope=f"listRefunds:{account_id}:{order_id or ''}",
        order=(Refund.created_at, Refund.id),
        key=lambda refund: Position(refund.created_at, refund.id),
        descending=False,
    )


def refunds_of(db: Session, account_id: str, order_id: str | None = None) -> list[Refund]:
    query = select(Refund).where(Refund.account_id == account_id)
    if order_id is not None:
        query = query.where(Refund.order_id == order_id)
    return list(db.scalars(query.order_by(Refund.created_at, Refund.id)))
