"""Returns (``requestReturn``, staff ``receiveReturn``): a shipped line comes back, then its refund."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mamori_common.problems import Problem
from services.orders.cancellation.rules import return_refusal
from services.orders.catalogue import reason_text
from services.orders.context import OrdersContext
from services.orders.ordering.facts import line_facts
from services.orders.ordering.models import LineState, Order, OrderLine, OrderState
from services.orders.ordering.service import lock_order
from services.orders.refunds.service import issue_refund
from services.orders.returns.models import Return


def open_return(db: Session, context: OrdersContext, order: Order, lines: list[OrderLine], reason: str) -> Return:
    """Caller holds the order's lock. Every line must be returnable, or 409 and nothing changes."""
    for line in lines:
        refusal = return_refusal(line_facts(db, order, line))
        if refusal is not None:
            text = reason_text(refusal.value)
            raise Problem(409, refusal.value, text.en, line_id=line.id, detail_ja=text.ja)
    for line in lines:
        line.state = LineState.return_requested.value
    opened = Return(
        order_id=order.id,
        account_id=order.account_id,
        line_ids=[line.id for line in lines],
        reason=reason,
        state="requested",
        requested_at=context.now(),
    )
    db.add(opened)
    db.flush()
    return opened


def receive_return(db: Session, context: OrdersContext, return_id: str) -> Return:
    """Staff received the goods: the lines are returned and their amount refunded, once."""
    found = db.get(Return, return_id)
    if found is None:
        raise Problem(404, "return_not_found", "No such return.")
    order = lock_order(db, found.order_id)
    received = db.get(Return, return_id, populate_existing=True)
    assert received is not None
    if received.state != "requested":
        raise Problem(409, "return_already_received", "This return was already received and refunded.")
    now = context.now()
    lines = [line for line in order.lines if line.id in received.line_ids]
    for line in lines:
        line.state = LineState.returned.value
    received.state = "received"
    received.received_at = now
    refund = issue_refund(
        db,
        order,
        sum(line.amount for line in lines),
        f"returned_{received.reason}"[:32],
        now,
        context.settings.refund_tender_order,
    )
    received.refund_id = refund.id if refund else None
    if all(line.state in (LineState.cancelled.value, LineState.returned.value) for line in order.lines):
        order.state = OrderState.cancelled.value
        order.cancelled_at = order.cancelled_at or now
    db.flush()
    return received


def returns_of(db: Session, order_id: str) -> list[Return]:
    return list(db.scalars(select(Return).where(Return.order_id == order_id).order_by(Return.requested_at)))
