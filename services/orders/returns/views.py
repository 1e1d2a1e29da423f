"""Routes: requestReturn (customer), receiveReturn (support or admin staff)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from mamori_common.db import SessionDep
from mamori_common.idempotency import Answer, IdempotencyKey
from mamori_common.path_ids import PathId
from mamori_common.problems import Problem
from services.orders.deps import Customer, Staff
from services.orders.idempotent import run_unsafe
from services.orders.ordering.models import Order
from services.orders.ordering.service import lock_order
from services.orders.refunds.confirmation import refund_out
from services.orders.refunds.models import Refund
from services.orders.returns import flows
from services.orders.returns.models import Return
from services.orders.returns.schemas import ReturnOut, ReturnRequest

router = APIRouter(prefix="/api/orders", tags=["orders"])
Id = PathId


def return_out(db: Session, item: Return) -> ReturnOut:
    refund = db.get(Refund, item.refund_id) if item.refund_id else None
    order = db.get(Order, item.order_id)
    assert order is not None
    return ReturnOut(
        id=item.id,
        order_id=item.order_id,
        line_ids=list(item.line_ids),
        reason=item.reason,
        state=item.state,
        requested_at=item.requested_at,
        received_at=item.received_at,
        refund=refund_out(refund, order) if refund else None,
    )


@router.post(
    "/orders/{order_id}/returns",
    operation_id="requestReturn",
    status_code=201,
    response_model=ReturnOut,
    summary="Return shipped lines; refunded when they are received",
)
def request_return(
    order_id: Id,
    body: ReturnRequest,
    principal: Customer,
    session: SessionDep,
    request: Request,
    key: IdempotencyKey = None,
) -> JSONResponse:
    def work(db: Session) -> Answer:
        order = lock_order(db, order_id, principal.account_id)
        by_id = {line.id: line for line in order.lines}
        unknown = [line_id for line_id in body.line_ids if line_id not in by_id]
        if unknown:
            raise Problem(422, "unknown_line", "Name lines of this order.", line_ids=unknown)
        lines = [by_id[line_id] for line_id in dict.fromkeys(body.line_ids)]
        opened = flows.open_return(db, request.app.state.orders, order, lines, "customer")
        return Answer(201, return_out(db, opened).model_dump(mode="json"))

    return run_unsafe(
        request,
        session,
        key=key,
        scope=f"account:{principal.account_id}",
        operation="requestReturn",
        body={"order_id": order_id, **body.model_dump(mode="json")},
        work=work,
        settle_orders=list,
    )


@router.post(
    "/staff/returns/{return_id}/receive",
    operation_id="receiveReturn",
    response_model=ReturnOut,
    summary="Staff: the returned goods arrived; refund them",
)
def receive_return(
    return_id: Id, principal: Staff, session: SessionDep, request: Request, key: IdempotencyKey = None
) -> JSONResponse:
    order_ids: list[str] = []

    def work(db: Session) -> Answer:
        received = flows.receive_return(db, request.app.state.orders, return_id)
        order_ids.append(received.order_id)
        return Answer(200, return_out(db, received).model_dump(mode="json"))

    return run_unsafe(
        request,
        session,
        key=key,
        scope=f"staff:{principal.account_id}",
        operation="receiveReturn",
        body={"return_id": return_id},
        work=work,
        settle_orders=lambda: order_ids,
    )
