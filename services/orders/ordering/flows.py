"""Placing an order (``placeOrder``, ``confirmOrder``): standing, risk, payment, in that order.

1. Auth's standing: a restricted, locked, frozen or closed account gets 403 ``account_restricted``
   and nothing is written (auth unreachable: 503, fail closed, see ``standing.py``).
2. One-click off: the order is only recorded, ``awaiting_confirmation``; nothing is charged until
   ``confirmOrder`` (within ``confirmation_window_seconds``).
3. Risk (``risk/rules.py``): block refuses (403 ``order_blocked``); hold authorises the card but
   captures nothing and ships nothing, and publishes ``payment.held``; allow captures.
4. The card is authorised *before* our transaction writes (a provider call is no part of our
   database; its key is the order id, so a retried call authorises once; two confirmations racing
   each authorise under their own key); if our writes then fail, that authorisation is voided
   after the rollback.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mamori_common import contract
from mamori_common.contract import AccountStanding
from mamori_common.db import rows_changed
from mamori_common.idempotency import Answer
from mamori_common.problems import Problem
from services.orders import announce
from services.orders.catalogue import reason_text
from services.orders.context import OrdersContext
from services.orders.deps import Origin
from services.orders.intrusion.signals import report_risk_signals
from services.orders.ledgers import service as ledgers
from services.orders.ordering.models import (
    LineKind,
    LineState,
    Order,
    OrderLine,
    OrderState,
    Tender,
    TenderKind,
    new_id,
)
from services.orders.ordering.schemas import PlaceOrderRequest
from services.orders.ordering.service import one_click_enabled, order_out
from services.orders.payments.models import TaskAction
from services.orders.payments.provider import ProviderError, ProviderUnavailable
from services.orders.payments.settlement import queue_task
from services.orders.risk.rules import Outcome, evaluate
from services.orders.risk.service import order_facts
from services.orders.subscriptions.models import Subscription


@dataclass
class Compensation:
    """Authorisations to void if the transaction that needed them rolled back (no tender holds them)."""

    authorisations: list[str] = field(default_factory=list)

    def run(self, context: OrdersContext) -> None:
        for authorisation_id in self.authorisations:
            with context.database.session() as db:
                if db.scalar(select(Tender.id).where(Tender.authorisation_id == authorisation_id)) is not None:
                    continue  # committed with its order: nothing to undo
            # An unvoided authorisation lapses at the issuer by itself; nothing was captured.
            with contextlib.suppress(ProviderError, ProviderUnavailable):
                context.provider.void(f"{authorisation_id}:void-after-rollback", authorisation_id)


def new_order(
    request: PlaceOrderRequest, account_id: str, origin: Origin, standing: AccountStanding, now: datetime
) -> Order:
    order = Order(
        id=new_id(),
        account_id=account_id,
        state=OrderState.awaiting_confirmation.value,
        total=sum(line.unit_amount * line.quantity for line in request.lines),
        currency="JPY",
        risk_outcome="pending",
        risk_reasons=[],
        session_id=origin.session_id,
        session_started_at=origin.session_started_at,
        device_id=origin.device_id,
        client_ip=origin.client_ip,
        country=origin.country,
        time_zone=standing.time_zone or "Asia/Tokyo",
        created_at=now,
        lock_version=0,
    )
    order.lines = [
        OrderLine(
            position=position,
            kind=line.kind,
            description=line.description,
            quantity=line.quantity,
            unit_amount=line.unit_amount,
            amount=line.unit_amount * line.quantity,
            state=LineState.open.value,
            used=False,
            redeemed=False,
        )
        for position, line in enumerate(request.lines)
    ]
    order.tenders = [
        Tender(
            position=position,
            kind=tender.kind,
            amount=tender.amount,
            captured=0,
            refunded=0,
            voided=False,
            card_token=tender.card.token if tender.card else None,
            card_last4=tender.card.last4 if tender.card else None,
            card_expiry=tender.card.expiry if tender.card else None,
            card_holder=tender.card.holder_name if tender.card else None,
        )
        for position, tender in enumerate(request.tenders)
    ]
    return order


def place(
    db: Session,
    context: OrdersContext,
    request: PlaceOrderRequest,
    account_id: str,
    origin: Origin,
    standing: AccountStanding,
    compensation: Compensation,
) -> Answer:
    now = context.now()
    order = new_order(request, account_id, origin, standing, now)
    if not one_click_enabled(db, account_id):
        db.add(order)
        db.flush()
        report_risk_signals(db, order)
        return Answer(202, order_out(db, order).model_dump(mode="json"))
    _take_payment(db, context, order, standing, compensation, now)
    db.add(order)
    db.flush()
    report_risk_signals(db, order)
    _start_what_the_order_bought(db, order, now, context)
    return Answer(201, order_out(db, order).model_dump(mode="json"))


def confirm(
    db: Session, context: OrdersContext, order: Order, standing: AccountStanding, compensation: Compensation
) -> Answer:
    """The explicit step one-click-off orders need; an order waits ``confirmation_window_seconds``."""
    now = context.now()
    if order.state != OrderState.awaiting_confirmation.value:
        raise Problem(409, "not_awaiting_confirmation", "This order does not wait for a confirmation.")
    if now - order.created_at > timedelta(seconds=context.settings.confirmation_window_seconds):
        raise Problem(409, "confirmation_expired", "This order waited too long; place it again.")
    _take_payment(db, context, order, standing, compensation, now, attempt=uuid.uuid4().hex)
    result = db.execute(
        update(Order)
        .where(Order.id == order.id, Order.lock_version == order.lock_version)
        .values(lock_version=Order.lock_version + 1)
    )
    if not rows_changed(result):
        raise Problem(409, "not_awaiting_confirmation", "This order was confirmed meanwhile.")
    order.lock_version += 1
    db.flush()
    _start_what_the_order_bought(db, order, now, context)
    return Answer(200, order_out(db, order).model_dump(mode="json"))


def _take_payment(
    db: Session,
    context: OrdersContext,
    order: Order,
    standing: AccountStanding,
    compensation: Compensation,
    now: datetime,
    attempt: str = "",
) -> None:
    """Risk decision, then authorise and (when allowed) capture. Reads first, provider next, writes last."""
    card = next((tender for tender in order.tenders if tender.kind == TenderKind.card.value), None)
    with db.no_autoflush:
        facts = order_facts(
            db,
            account_id=order.account_id,
            lines=[(line.kind, line.amount) for line in order.lines],
            total=order.total,
            account_holder=standing.name,
            card_holder=card.card_holder if card else None,
            device_id=order.device_id,
            country=order.country,
            now=now,
            settings=context.settings,
            session_started_at=order.session_started_at,
            order_id=order.id,
        )
        decision = evaluate(facts, context.settings)
        if decision.outcome is Outcome.block:
            raise Problem(
                403,
                "order_blocked",
                "We cannot accept this order.",
                reasons=decision.reasons,
                explanations=[reason_text(code).model_dump() for code in decision.reasons],
            )
        for tender in order.tenders:
            if (
                tender.kind != TenderKind.card.value
                and ledgers.balance(db, order.account_id, tender.kind) < tender.amount
            ):
                raise Problem(
                    409,
                    f"insufficient_{tender.kind}",
                    f"The {tender.kind.replace('_', ' ')} does not cover {tender.amount} yen.",
                )
        if card is not None:
            assert card.card_token is not None
            try:
                card.authorisation_id = context.provider.authorise(
                    f"{order.id}:authorise{attempt}", card.card_token, card.amount
                )
            except ProviderError as exc:
                raise Problem(
                    402, "payment_declined", "The card was declined; nothing was charged.", provider_code=exc.code
                ) from exc
            except ProviderUnavailable as exc:
                raise Problem(
                    503,
                    "payment_unavailable",
                    "The payment provider did not answer; nothing was charged. Please try again.",
                ) from exc
            compensation.authorisations.append(card.authorisation_id)
    held = decision.outcome is Outcome.hold
    order.state = OrderState.held.value if held else OrderState.placed.value
    order.risk_outcome = decision.outcome.value
    order.risk_reasons = decision.reasons
    order.placed_at = None if held else now
    for tender in order.tenders:
        if tender.kind != TenderKind.card.value:
            ledgers.debit(db, order.account_id, tender.kind, tender.amount, "order", now, order_id=order.id)
            tender.captured = tender.amount
        elif not held:
            tender.captured = tender.amount
    if held:
        db.add(order)
        db.flush()
        announce.payment_held(
            db,
            contract.PaymentHeld(
                order_id=order.id,
                account_id=order.account_id,
                amount=order.total,
                card_last4=card.card_last4 if card else None,
                holder_name=card.card_holder if card else None,
                reasons=decision.reasons,
            ),
        )


def _start_what_the_order_bought(db: Session, order: Order, now: datetime, context: OrdersContext) -> None:
    """Once an order is placed (not held): capture the card, credit top-ups, start subscriptions."""
    if order.state != OrderState.placed.value:
        return
    release(db, order, now, context)


def release(db: Session, order: Order, now: datetime, context: OrdersContext) -> None:
    """An allowed or released order goes ahead: card captured, top-ups credited, subscriptions started."""
    order.state = OrderState.placed.value
    order.placed_at = order.placed_at or now
    for tender in order.tenders:
        if tender.kind == TenderKind.card.value:
            tender.captured = tender.amount
            queue_task(db, tender, TaskAction.capture, tender.amount, now)
    for line in order.lines:
        if line.kind == LineKind.balance_top_up.value:
            ledgers.credit(db, order.account_id, "gift_balance", line.amount, "top_up", now, order_id=order.id)
        elif line.kind == LineKind.subscription.value:
            db.add(
                Subscription(
                    account_id=order.account_id,
                    order_id=order.id,
                    line_id=line.id,
                    plan=line.description,
                    amount=line.amount,
                    state="active",
                    period_start=now,
                    period_end=now + timedelta(days=context.settings.subscription_period_days),
                )
            )
    db.flush()
