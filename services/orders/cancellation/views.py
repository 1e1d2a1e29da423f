"""Routes: cancelOrder, reportNotMine."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from mamori_common.contract import case_number
from mamori_common.db import SessionDep
from mamori_common.idempotency import Answer, IdempotencyKey
from mamori_common.path_ids import PathId
from mamori_common.problems import Problem
from services.orders.cancellation.flows import cancel_lines
from services.orders.cancellation.not_mine import report_not_mine
from services.orders.cancellation.schemas import CancelRequest, CancelResult, NotMineResult
from services.orders.deps import Customer
from services.orders.idempotent import run_unsafe
from services.orders.ordering.models import LineState
from services.orders.ordering.service import lock_order, order_out
from services.orders.refunds.confirmation import refund_out
from services.orders.refunds.models import Refund

router = APIRouter(prefix="/api/orders", tags=["orders"])
OrderId = PathId


@router.post(
    "/orders/{order_id}/cancel",
    operation_id="cancelOrder",
    response_model=CancelResult,
    summary="Cancel an order (or some lines) and refund each tender",
)
def cancel_order(
    order_id: OrderId,
    principal: Customer,
    session: SessionDep,
    request: Request,
    body: Annotated[CancelRequest | None, Body()] = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    wanted = body.line_ids if body else None

    def work(db: Session) -> Answer:
        context = request.app.state.orders
        order = lock_order(db, order_id, principal.account_id)
        if wanted is None:
            lines = [
                line for line in order.lines if line.state not in (LineState.cancelled.value, LineState.returned.value)
            ]
            if not lines:
                raise Problem(409, "already_cancelled", "This order has already been cancelled.")
        else:
            by_id = {line.id: line for line in order.lines}
            unknown = [line_id for line_id in wanted if line_id not in by_id]
            if unknown or not wanted:
                raise Problem(422, "unknown_line", "Name lines of this order.", line_ids=unknown)
            lines = [by_id[line_id] for line_id in dict.fromkeys(wanted)]
        outcome = cancel_lines(db, context, order, lines, reason="cancelled", fraudulent=False, strict=True)
        result = CancelResult(
            order=order_out(db, order),
            refund=refund_out(outcome.refund, order) if outcome.refund else None,
            authorisation_voided=outcome.voided,
        )
        return Answer(200, result.model_dump(mode="json"))

    return run_unsafe(
        request,
        session,
        key=key,
        scope=f"account:{principal.account_id}",
        operation="cancelOrder",
        body={"order_id": order_id, "line_ids": wanted},
        work=work,
        settle_orders=lambda: [order_id],
    )


@router.post(
    "/orders/{order_id}/not-mine",
    operation_id="reportNotMine",
    response_model=NotMineResult,
    summary="Report an order you did not place: undone, refunded, a case opened",
)
def not_mine(
    order_id: OrderId, principal: Customer, session: SessionDep, request: Request, key: IdempotencyKey = None
) -> JSONResponse:
    def work(db: Session) -> Answer:
        report = report_not_mine(db, request.app.state.orders, principal.account_id, order_id)
        order = lock_order(db, order_id, principal.account_id)
        refund = db.get(Refund, report.refund_id) if report.refund_id else None
        result = NotMineResult(
            order=order_out(db, order),
            actions=report.actions,
            refund=refund_out(refund, order) if refund else None,
            return_id=report.return_id,
            case_id=report.case_id,
            case_number=case_number(report.case_id),
        )
        return Answer(200, result.model_dump(mode="json"))

    return run_unsafe(
        request,
        session,
        key=key,
        scope=f"account:{principal.account_id}",
        operation="reportNotMine",
        body={"order_id": order_id},
        work=work,
        settle_orders=lambda: [order_id],
    )
