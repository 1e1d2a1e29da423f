"""What the warehouse and the download store report: a line shipped, a digital line used, a gift card redeemed.

These facts decide what may still be cancelled (``cancellation/rules.py``); a held order never
ships (409 ``order_held``).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from mamori_common.problems import Problem
from services.orders.context import OrdersContext
from services.orders.ordering.models import LineKind, LineState, Order, OrderState
from services.orders.ordering.service import lock_order


def ship(db: Session, context: OrdersContext, order_id: str) -> Order:
    order = lock_order(db, order_id)
    if order.state == OrderState.held.value:
        raise Problem(409, "order_held", "A held order is not shipped until its verification case approves it.")
    if order.state != OrderState.placed.value:
        raise Problem(409, "order_not_placed", f"This order is {order.state}: nothing to ship.")
    physical = [
        line for line in order.lines if line.kind == LineKind.physical.value and line.state == LineState.open.value
    ]
    if not physical:
        raise Problem(409, "nothing_to_ship", "This order has no physical line waiting to ship.")
    for line in physical:
        line.state = LineState.shipped.value
        line.shipped_at = context.now()
    db.flush()
    return order


def record_use(db: Session, order_id: str, line_id: str) -> Order:
    order = lock_order(db, order_id)
    line = next((line for line in order.lines if line.id == line_id), None)
    if line is None:
        raise Problem(404, "line_not_found", "No such line in this order.")
    if line.kind == LineKind.digital.value:
        line.used = True
    elif line.kind == LineKind.gift_card.value:
        line.redeemed = True
    else:
        raise Problem(409, "not_usable", "Only digital lines are used and gift cards redeemed.")
    db.flush()
    return order
