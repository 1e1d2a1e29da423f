"""Route: cancelSubscription (pro rata refund of the unused period)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from mamori_common.db import SessionDep
from mamori_common.idempotency import Answer, IdempotencyKey
from mamori_common.path_ids import PathId
from services.orders.deps import Customer
from services.orders.idempotent import run_unsafe
from services.orders.ordering.models import Order
from services.orders.refunds.confirmation import refund_out
from services.orders.refunds.schemas import RefundOut
from services.orders.subscriptions.flows import cancel_subscription

router = APIRouter(prefix="/api/orders", tags=["orders"])


class SubscriptionCancelled(BaseModel):
    id: str
    order_id: str
    state: str
    refund: RefundOut | None


@router.post(
    "/subscriptions/{subscription_id}/cancel",
    operation_id="cancelSubscription",
    response_model=SubscriptionCancelled,
    summary="End a subscription; the unused part is refunded",
)
def cancel(
    subscription_id: PathId,
    principal: Customer,
    session: SessionDep,
    request: Request,
    key: IdempotencyKey = None,
) -> JSONResponse:
    order_ids: list[str] = []

    def work(db: Session) -> Answer:
        subscription, outcome = cancel_subscription(db, request.app.state.orders, principal.account_id, subscription_id)
        order_ids.append(subscription.order_id)
        order = db.get(Order, subscription.order_id)
        assert order is not None
        result = SubscriptionCancelled(
            id=subscription.id,
            order_id=subscription.order_id,
            state=subscription.state,
            refund=refund_out(outcome.refund, order) if outcome.refund else None,
        )
        return Answer(200, result.model_dump(mode="json"))

    return run_unsafe(
        request,
        session,
        key=key,
        scope=f"account:{principal.account_id}",
        operation="cancelSubscription",
        body={"subscription_id": subscription_id},
        work=work,
        settle_orders=lambda: order_ids,
    )
