"""What the cancellation and return rules know about one line of an order, read from the database.

Facts about a line are the order's own (``ordering/``); ``cancellation/rules.py`` and the return
rules judge them, and both the cancellation and the return flows gather them here, so neither flow
needs the other.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.orders.cancellation.rules import LineFacts
from services.orders.ledgers import service as ledgers
from services.orders.ordering.models import LineKind, Order, OrderLine, OrderState


def line_facts(db: Session, order: Order, line: OrderLine) -> LineFacts:
    """A held top-up was never credited (the balance is credited once an order is placed), so
    none of it can have been spent: it counts as all there."""
    balance_left = 0
    if line.kind == LineKind.balance_top_up:
        held = order.state == OrderState.held.value
        balance_left = line.amount if held else ledgers.balance(db, order.account_id, "gift_balance")
    return LineFacts(
        kind=line.kind,
        state=line.state,
        used=line.used,
        redeemed=line.redeemed,
        balance_left=balance_left,
        amount=line.amount,
    )
