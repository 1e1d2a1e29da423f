"""What an order tells auth about the session that placed it (story S2: ``order.risk_signals``).

Orders sees what an intruder buys and pays with; auth sees how they signed in and what they
changed. Only auth can put the two together (``services/auth/intrusion/policy.py``), so every
order from a session reports its signals, in the transaction that records the order:

* ``gift_card_order`` / ``top_up_order``: cash, the intruder's favourite (S2's top-up);
* ``new_tender``: a card this account never paid with before. An account with no earlier order
  has no baseline, so its first card is not "new" (as auth treats a first sign-in).

An order with none of these reports nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from mamori_common import contract
from services.orders.context import context_of
from services.orders.ordering.models import LineKind, Order, Tender


def signals_of(
    line_kinds: Iterable[str], card_tokens: Iterable[str], known_tokens: set[str], *, has_history: bool
) -> list[str]:
    """The signals of one order, in a fixed order (pure)."""
    kinds = set(line_kinds)
    signals: list[str] = []
    if has_history and any(token not in known_tokens for token in card_tokens):
        signals.append("new_tender")
    if LineKind.gift_card.value in kinds:
        signals.append("gift_card_order")
    if LineKind.balance_top_up.value in kinds:
        signals.append("top_up_order")
    return signals


def report_risk_signals(db: Session, order: Order) -> None:
    """Publish ``order.risk_signals`` for ``order`` if it shows any."""
    tokens = [tender.card_token for tender in order.tenders if tender.card_token]
    earlier = select(Order.id).where(Order.account_id == order.account_id, Order.id != order.id)
    has_history = db.scalar(earlier.limit(1)) is not None
    known: set[str] = set()
    if tokens and has_history:
        known = {
            token
            for token in db.scalars(
                select(Tender.card_token)
                .join(Order, Order.id == Tender.order_id)
                .where(Order.account_id == order.account_id, Order.id != order.id, Tender.card_token.in_(tokens))
            ).all()
            if token
        }
    signals = signals_of([line.kind for line in order.lines], tokens, known, has_history=has_history)
    if not signals:
        return
    event = contract.OrderRiskSignals(
        account_id=order.account_id,
        session_id=order.session_id,
        order_id=order.id,
        signals=signals,  # type: ignore[arg-type]
    )
    context_of(db).outbox.publish(db, contract.ORDER_RISK_SIGNALS, event.model_dump(mode="json"))
