"""Reading orders, their owner check, the order lock, the one-click setting, the API shapes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mamori_common.db import rows_changed
from mamori_common.pagination import Page, PageRequest, Position, paginate
from mamori_common.problems import Problem
from services.orders.catalogue import reason_text
from services.orders.ordering.models import OneClickSetting, Order
from services.orders.ordering.schemas import LineOut, OrderOut, RiskOut, TenderOut
from services.orders.returns.models import Return
from services.orders.subscriptions.models import Subscription


def lock_order(db: Session, order_id: str, account_id: str | None = None) -> Order:
    """The order, with its row lock held to the end of the caller's transaction.

    The lock is an UPDATE, the first write of the transaction: PostgreSQL holds the row, SQLite
    the database, so every change of one order (cancel, return, refund, a case's decision) runs one
    after another and reads what the one before committed. Another account's order answers 404.
    """
    query = update(Order).where(Order.id == order_id).values(lock_version=Order.lock_version + 1)
    if account_id is not None:
        query = query.where(Order.account_id == account_id)
    if not rows_changed(db.execute(query)):
        raise Problem(404, "order_not_found", "No such order.")
    db.expire_all()
    order = db.get(Order, order_id, populate_existing=True)
    assert order is not None
    return order


def order_of(db: Session, order_id: str, account_id: str) -> Order:
    order = db.get(Order, order_id)
    if order is None or order.account_id != account_id:
        raise Problem(404, "order_not_found", "No such order.")
    return order


def orders_of(db: Session, account_id: str, page: PageRequest) -> Page[Order]:
    """One page of the customer's orders, newest first."""
    return paginate(
        db,
        select(Order).where(Order.account_id == account_id),
        page=page,
        scope=f"listOrders:{account_id}",
        order=(Order.created_at, Order.id),
        key=lambda order: Position(order.created_at, order.id),
    )


def one_click_enabled(db: Session, account_id: str) -> bool:
    """One-click is on until the customer turns it off (the store's default, as in S4)."""
    setting = db.get(OneClickSetting, account_id)
    return True if setting is None else setting.enabled


def set_one_click(db: Session, account_id: str, enabled: bool, now: datetime) -> None:
    setting = db.get(OneClickSetting, account_id)
    if setting is None:
        db.add(OneClickSetting(account_id=account_id, enabled=enabled, updated_at=now))
    else:
        setting.enabled = enabled
        setting.updated_at = now


def order_out(db: Session, order: Order) -> OrderOut:
    subscriptions = db.scalars(select(Subscription.id).where(Subscription.order_id == order.id)).all()
    returns = db.scalars(select(Return.id).where(Return.order_id == order.id).order_by(Return.requested_at)).all()
    return OrderOut(
        id=order.id,
        state=order.state,
        total=order.total,
        currency=order.currency,
        risk=RiskOut(
            outcome=order.risk_outcome,
            reasons=list(order.risk_reasons),
            explanations=[reason_text(code) for code in order.risk_reasons],
        ),
        lines=[
            LineOut(
                id=line.id,
                kind=line.kind,
                description=line.description,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                amount=line.amount,
                state=line.state,
                used=line.used,
                redeemed=line.redeemed,
                shipped_at=line.shipped_at,
            )
            for line in order.lines
        ],
        tenders=[
            TenderOut(
                kind=tender.kind,
                amount=tender.amount,
                captured=tender.captured,
                refunded=tender.refunded,
                card_last4=tender.card_last4,
                card_holder=tender.card_holder,
            )
            for tender in order.tenders
        ],
        created_at=order.created_at,
        placed_at=order.placed_at,
        cancelled_at=order.cancelled_at,
        subscription_ids=list(subscriptions),
        return_ids=list(returns),
    )
