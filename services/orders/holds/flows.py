"""A verification case decided a held payment (story S3): release it, or cancel it.

``case.approved`` releases the held orders (captured, shipped as usual), or cancels them when
the event says so; ``case.rejected`` cancels them and voids the authorisation. Either way the
customer is told which orders went ahead and which were cancelled.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mamori_common import contract
from mamori_common.events import EventEnvelope
from services.orders import announce
from services.orders.cancellation.flows import cancel_lines
from services.orders.catalogue import ACTION_TEXTS, decision_notice
from services.orders.context import context_of, parse_event
from services.orders.ordering.flows import release
from services.orders.ordering.models import LineState, Order, OrderState
from services.orders.ordering.service import lock_order
from services.orders.summaries import order_label


def _held_orders(db: Session, account_id: str, order_ids: list[str]) -> list[str]:
    query = select(Order.id).where(Order.account_id == account_id, Order.state == OrderState.held.value)
    if order_ids:
        query = query.where(Order.id.in_(order_ids))
    return list(db.scalars(query.order_by(Order.created_at)))


def _decide(db: Session, account_id: str, order_ids: list[str], go_ahead: bool, reason: str) -> None:
    context = context_of(db)
    ja: list[str] = []
    en: list[str] = []
    for order_id in _held_orders(db, account_id, order_ids):
        order = lock_order(db, order_id)
        if order.state != OrderState.held.value:
            continue
        label = order_label(order)
        if go_ahead:
            release(db, order, context.now(), context)
            key = "released"
        else:
            open_lines = [line for line in order.lines if line.state == LineState.open.value]
            cancel_lines(db, context, order, open_lines, reason=reason, fraudulent=False, strict=False)
            key = "cancelled"
        ja.append(ACTION_TEXTS[key].ja.format(order=label))
        en.append(ACTION_TEXTS[key].en.format(order=label))
    if ja:
        announce.notify(db, account_id, decision_notice(ja, en))


def handle_case_approved(db: Session, envelope: EventEnvelope) -> None:
    event = parse_event(contract.CaseApproved, envelope)
    _decide(db, event.account_id, event.order_ids, event.order_action == "release", "verification_cancelled")


def handle_case_rejected(db: Session, envelope: EventEnvelope) -> None:
    event = parse_event(contract.CaseRejected, envelope)
    _decide(db, event.account_id, event.order_ids, False, "verification_rejected")
