"""Routes: listRefunds, getRefundConfirmation (JSON, or a printable PDF with ``format=pdf``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mamori_common.db import SessionDep
from mamori_common.pagination import PAGE_RESPONSES, PageDep
from mamori_common.path_ids import PathId
from mamori_common.problems import Problem
from services.orders.deps import Customer
from services.orders.ordering.models import Order
from services.orders.ordering.service import order_of
from services.orders.refunds.confirmation import confirmation_for, refund_out, render_pdf
from services.orders.refunds.schemas import RefundConfirmation, RefundList
from services.orders.refunds.service import refunds_page

router = APIRouter(prefix="/api/orders", tags=["orders"])


@router.get(
    "/refunds",
    operation_id="listRefunds",
    response_model=RefundList,
    summary="The caller's refunds, oldest first, each split by tender",
    description="Paged: follow `next` with `cursor` (see `limit`); a cursor is valid only with the same `order_id`.",
    responses=PAGE_RESPONSES,
)
def list_refunds(
    principal: Customer,
    session: SessionDep,
    page: PageDep,
    order_id: Annotated[str | None, Query(max_length=64)] = None,
) -> RefundList:
    items = []
    orders: dict[str, Order] = {}
    refunds = refunds_page(session, principal.account_id, page, order_id)
    for refund in refunds.items:
        order = orders.get(refund.order_id) or order_of(session, refund.order_id, principal.account_id)
        orders[order.id] = order
        items.append(refund_out(refund, order))
    return RefundList(items=items, next=refunds.next)


@router.get(
    "/orders/{order_id}/refund-confirmation",
    operation_id="getRefundConfirmation",
    response_model=RefundConfirmation,
    responses={200: {"content": {"application/pdf": {}}, "description": "JSON, or a PDF with format=pdf."}},
    summary="A confirmation of the order's refunds, to hand to a card issuer",
)
def get_refund_confirmation(
    order_id: PathId,
    principal: Customer,
    session: SessionDep,
    request: Request,
    format: Literal["json", "pdf"] = "json",
) -> Response:
    order = order_of(session, order_id, principal.account_id)
    confirmation = confirmation_for(session, order, request.app.state.orders.now())
    if not confirmation.refunds:
        raise Problem(404, "no_refunds", "This order has no refunds to confirm yet.")
    if format == "pdf":
        return Response(
            render_pdf(confirmation, order.time_zone),
            media_type="application/pdf",
            headers={"content-disposition": f'inline; filename="refund-{confirmation.reference_code}.pdf"'},
        )
    return Response(confirmation.model_dump_json(), media_type="application/json")
