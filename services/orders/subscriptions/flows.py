"""``cancelSubscription``: the customer ends a subscription and gets the unused share back."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mamori_common.problems import Problem
from services.orders.cancellation.flows import CancelOutcome, cancel_lines
from services.orders.context import OrdersContext
from services.orders.ordering.service import lock_order
from services.orders.subscriptions.models import Subscription


def cancel_subscription(
    db: Session,
    context: OrdersContext,
    account_id: str,
    subscription_id: str,
) -> tuple[Subscription, CancelOutcome]:
    found = db.get(Subscription, subscription_id)
    if found is None or found.account_id != account_id:
        raise Problem(404, "subscription_not_found", "No such subscription.")
    order = lock_order(db, found.order_id, account_id)
    subscription = db.get(Subscription, subscription_id, populate_existing=True)
    assert subscription is not None
    if subscription.state != "active":
        raise Problem(409, "already_cancelled", "This subscription has already been cancelled.")
    line = next(line for line in order.lines if line.id == subscription.line_id)
    outcome = cancel_lines(db, context, order, [line], reason="subscription_cancelled", fraudulent=False, strict=True)
    return subscription, outcome
