"""Cancelling what an order bought (``cancelOrder``, and for ``reportNotMine``, the intrusion clean-up
and case decisions).

:func:`cancel_lines` is the one place lines are cancelled: it checks each line against
``cancellation/rules.py``, takes top-ups back off the balance, ends subscriptions, refunds what was
captured (``refunds/service.py``) and voids a card authorisation that was never captured. The
caller holds the order's lock (``lock_order``) and commits; card refunds and voids leave as queued
payment tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mamori_common.problems import Problem
from services.orders.cancellation.rules import Refusal, cancel_refusal
from services.orders.catalogue import reason_text
from services.orders.context import OrdersContext
from services.orders.ledgers import service as ledgers
from services.orders.ordering.facts import line_facts
from services.orders.ordering.models import LineKind, LineState, Order, OrderLine, OrderState, TenderKind
from services.orders.payments.models import TaskAction
from services.orders.payments.settlement import queue_task
from services.orders.refunds.models import Refund
from services.orders.refunds.service import issue_refund
from services.orders.subscriptions.models import Subscription
from services.orders.subscriptions.rules import refund_on_cancel


@dataclass
class CancelOutcome:
    cancelled: list[OrderLine] = field(default_factory=list)
    refused: dict[str, Refusal] = field(default_factory=dict)
    refund: Refund | None = None
    voided: bool = False


def cancel_lines(
    db: Session,
    context: OrdersContext,
    order: Order,
    lines: list[OrderLine],
    *,
    reason: str,
    fraudulent: bool,
    strict: bool,
) -> CancelOutcome:
    """Cancel ``lines`` (subscription lines too: an order-level cancellation ends them).

    ``strict``: any line that may not be cancelled refuses the whole call (409, its code), changing
    nothing; otherwise what can be cancelled is, and the rest is reported in ``refused``.
    ``fraudulent``: subscriptions are refunded in full, not pro rata.
    """
    now = context.now()
    outcome = CancelOutcome()
    for line in lines:
        refusal = cancel_refusal(line_facts(db, order, line))
        if refusal is not None:
            if strict:
                text = reason_text(refusal.value)
                raise Problem(409, refusal.value, text.en, line_id=line.id, detail_ja=text.ja)
            outcome.refused[line.id] = refusal
            continue
        outcome.cancelled.append(line)
    was_held = order.state == OrderState.held.value
    amount = 0
    for line in outcome.cancelled:
        line.state = LineState.cancelled.value
        if line.kind == LineKind.balance_top_up.value and not was_held:
            ledgers.debit(db, order.account_id, "gift_balance", line.amount, "top_up_cancelled", now, order_id=order.id)
        amount += _line_refund(db, line, now, fraudulent=fraudulent, held=was_held)
    if all(line.state in (LineState.cancelled.value, LineState.returned.value) for line in order.lines):
        order.state = OrderState.cancelled.value
        order.cancelled_at = now
    outcome.refund = issue_refund(db, order, amount, reason, now, context.settings.refund_tender_order)
    if was_held and order.state == OrderState.cancelled.value:
        outcome.voided = void_uncaptured_card(db, order, now)
    db.flush()
    return outcome


def _line_refund(db: Session, line: OrderLine, now: datetime, *, fraudulent: bool, held: bool) -> int:
    """What cancelling this line gives back: its amount, or a subscription's due share."""
    if line.kind != LineKind.subscription.value or held:
        return line.amount
    subscription = db.scalar(select(Subscription).where(Subscription.line_id == line.id))
    if subscription is None or subscription.state != "active":
        return line.amount if subscription is None else 0
    subscription.state = "cancelled"
    subscription.cancelled_at = now
    return refund_on_cancel(
        subscription.amount, subscription.period_start, subscription.period_end, now, fraudulent=fraudulent
    )


def void_uncaptured_card(db: Session, order: Order, now: datetime) -> bool:
    """A held order's card was only authorised: release the authorisation instead of refunding."""
    for tender in order.tenders:
        if (
            tender.kind == TenderKind.card.value
            and tender.captured == 0
            and not tender.voided
            and tender.authorisation_id
        ):
            tender.voided = True
            queue_task(db, tender, TaskAction.void, 0, now)
            return True
    return False
