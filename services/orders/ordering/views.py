"""Routes: placeOrder, confirmOrder, listOrders, getOrder, setOneClick."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mamori_common.db import SessionDep
from mamori_common.idempotency import Answer, IdempotencyKey
from mamori_common.pagination import PAGE_RESPONSES, PageDep
from mamori_common.path_ids import PathId
from services.orders.catalogue import Text
from services.orders.deps import Customer, OriginDep, StandingDep
from services.orders.idempotent import run_unsafe
from services.orders.ordering import flows
from services.orders.ordering.free_text import ensure_no_card_number_in
from services.orders.ordering.schemas import OneClickOut, OneClickRequest, OrderList, OrderOut, PlaceOrderRequest
from services.orders.ordering.service import one_click_enabled, order_of, order_out, orders_of, set_one_click
from services.orders.standing import require_can_order

router = APIRouter(prefix="/api/orders", tags=["orders"])
OrderId = PathId

ONE_CLICK_TEXT = {
    True: Text(ja="1-Clickでの注文をオンにしました。", en="1-Click ordering is on."),
    False: Text(
        ja="1-Clickでの注文をオフにしました。ご注文には確認の操作が必要です。",
        en="1-Click ordering is off: every order needs your confirmation.",
    ),
}


@router.post(
    "/orders",
    operation_id="placeOrder",
    status_code=201,
    response_model=OrderOut,
    responses={202: {"model": OrderOut, "description": "One-click is off: confirm with confirmOrder."}},
    summary="Place an order (held for verification when risky)",
    description="422 `card_number_visible` when a description, the holder name or the card token holds a full "
    "card number (nothing is kept).",
)
def place_order(
    body: PlaceOrderRequest,
    principal: Customer,
    origin: OriginDep,
    standing_client: StandingDep,
    session: SessionDep,
    request: Request,
    key: IdempotencyKey = None,
) -> JSONResponse:
    ensure_no_card_number_in(body)
    standing = require_can_order(standing_client, principal.account_id, principal.session_id)
    compensation = flows.Compensation()
    return run_unsafe(
        request,
        session,
        key=key,
        scope=f"account:{principal.account_id}",
        operation="placeOrder",
        body=body.model_dump(mode="json"),
        work=lambda db: flows.place(
            db, request.app.state.orders, body, principal.account_id, origin, standing, compensation
        ),
        after=lambda: compensation.run(request.app.state.orders),
    )


@router.post(
    "/orders/{order_id}/confirm",
    operation_id="confirmOrder",
    response_model=OrderOut,
    summary="Confirm an order placed while one-click is off",
)
def confirm_order(
    order_id: OrderId,
    principal: Customer,
    standing_client: StandingDep,
    session: SessionDep,
    request: Request,
    key: IdempotencyKey = None,
) -> JSONResponse:
    standing = require_can_order(standing_client, principal.account_id, principal.session_id)
    compensation = flows.Compensation()

    def work(db: SessionDep) -> Answer:
        order = order_of(db, order_id, principal.account_id)
        return flows.confirm(db, request.app.state.orders, order, standing, compensation)

    return run_unsafe(
        request,
        session,
        key=key,
        scope=f"account:{principal.account_id}",
        operation="confirmOrder",
        body={"order_id": order_id},
        work=work,
        settle_orders=lambda: [order_id],
        after=lambda: compensation.run(request.app.state.orders),
    )


@router.get(
    "/orders",
    operation_id="listOrders",
    response_model=OrderList,
    summary="The caller's orders, newest first",
    description="Paged: follow `next` with `cursor` (see `limit`).",
    responses=PAGE_RESPONSES,
)
def list_orders(principal: Customer, session: SessionDep, page: PageDep) -> OrderList:
    orders = orders_of(session, principal.account_id, page)
    return OrderList(items=[order_out(session, order) for order in orders.items], next=orders.next)


@router.get(
    "/orders/{order_id}", operation_id="getOrder", response_model=OrderOut, summary="One order, with its risk decision"
)
def get_order(order_id: OrderId, principal: Customer, session: SessionDep) -> OrderOut:
    return order_out(session, order_of(session, order_id, principal.account_id))


@router.put(
    "/settings/one-click",
    operation_id="setOneClick",
    response_model=OneClickOut,
    summary="Turn 1-Click ordering on or off",
)
def put_one_click(
    body: OneClickRequest, principal: Customer, session: SessionDep, request: Request, key: IdempotencyKey = None
) -> JSONResponse:
    def work(db: SessionDep) -> Answer:
        set_one_click(db, principal.account_id, body.enabled, request.app.state.orders.now())
        enabled = one_click_enabled(db, principal.account_id)
        return Answer(200, OneClickOut(enabled=enabled, detail=ONE_CLICK_TEXT[enabled]).model_dump(mode="json"))

    return run_unsafe(
        request,
        session,
        key=key,
        scope=f"account:{principal.account_id}",
        operation="setOneClick",
        body=body.model_dump(mode="json"),
        work=work,
        settle_orders=list,
    )
