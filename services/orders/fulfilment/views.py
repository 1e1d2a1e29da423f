"""Staff routes: shipOrder, recordLineUse (support or admin)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from mamori_common.db import SessionDep
from mamori_common.idempotency import Answer, IdempotencyKey
from mamori_common.path_ids import PathId
from services.orders.deps import Staff
from services.orders.fulfilment import flows
from services.orders.idempotent import run_unsafe
from services.orders.ordering.schemas import OrderOut
from services.orders.ordering.service import order_out

router = APIRouter(prefix="/api/orders/staff", tags=["orders staff"])
Id = PathId


@router.post(
    "/orders/{order_id}/ship",
    operation_id="shipOrder",
    response_model=OrderOut,
    summary="Staff: the physical lines of an order left the warehouse",
)
def ship_order(
    order_id: Id, principal: Staff, session: SessionDep, request: Request, key: IdempotencyKey = None
) -> JSONResponse:
    def work(db: Session) -> Answer:
        return Answer(200, order_out(db, flows.ship(db, request.app.state.orders, order_id)).model_dump(mode="json"))

    return run_unsafe(
        request,
        session,
        key=key,
        scope=f"staff:{principal.account_id}",
        operation="shipOrder",
        body={"order_id": order_id},
        work=work,
        settle_orders=list,
    )


@router.post(
    "/orders/{order_id}/lines/{line_id}/use",
    operation_id="recordLineUse",
    response_model=OrderOut,
    summary="Staff: a digital line was first used, or a gift card redeemed",
)
def record_line_use(
    order_id: Id, line_id: Id, principal: Staff, session: SessionDep, request: Request, key: IdempotencyKey = None
) -> JSONResponse:
    def work(db: Session) -> Answer:
        return Answer(200, order_out(db, flows.record_use(db, order_id, line_id)).model_dump(mode="json"))

    return run_unsafe(
        request,
        session,
        key=key,
        scope=f"staff:{principal.account_id}",
        operation="recordLineUse",
        body={"order_id": order_id, "line_id": line_id},
        work=work,
        settle_orders=list,
    )
