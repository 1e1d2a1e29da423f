"""The customer's orders: the list, one order with its payments and refunds split by tender,
cancel, return, "this was not me", the printable refund confirmation (orders' PDF), and the
1-Click switch on the security page.

Orders decides every rule (what can still be cancelled, how a refund splits over points, gift
balance and card); its refusals carry their reason in both languages and the page shows it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response

from portal.client import Answer
from portal.web import (
    CursorDep,
    Customer,
    CustomerDep,
    FormDep,
    TokenDep,
    Visit,
    VisitDep,
    cursor_refused,
    redirect,
    render,
    still_signed_in,
)

router = APIRouter(include_in_schema=False)


def is_order_id(order_id: str) -> bool:
    return 0 < len(order_id) <= 64 and order_id.replace("-", "").replace("_", "").isalnum()


def order_id_of(order_id: str) -> str:
    """The path's order id, or the 404 page before any service is asked."""
    if not is_order_id(order_id):
        raise HTTPException(404)
    return order_id


OrderIdDep = Annotated[str, Depends(order_id_of)]


def refusal_text(visit: Visit, answer: Answer) -> str:
    """Orders' own words for a refusal, in the reader's language."""
    body = answer.body
    if visit.reader.language == "ja" and body.get("detail_ja"):
        return str(body["detail_ja"])
    return str(body.get("detail") or "")


async def order_page(visit: Visit, customer: Customer, order_id: str, status: int = 200, **context: Any) -> Response:
    """One order with its refunds, or 404 for an id that is not one of the customer's orders."""
    answer = still_signed_in(visit, await visit.orders.get_order(visit.caller, customer.token, order_id))
    if not answer.ok:
        return render(visit, "error.html", 404, reason="not_found")
    refunds = still_signed_in(visit, await visit.orders.list_refunds(visit.caller, customer.token, order_id))
    defaults: dict[str, Any] = {"refusal": None, "notice": visit.request.query_params.get("notice")}
    return render(
        visit,
        "order.html",
        status,
        order=answer.body,
        refunds=refunds.body.get("items", []) if refunds.ok else [],
        **{**defaults, **context},
    )


async def act(visit: Visit, customer: Customer, order_id: str, answer: Answer, notice: str) -> Response:
    if answer.ok:
        return redirect(f"/orders/{order_id}?notice={notice}")
    if answer.status == 404:
        return render(visit, "error.html", 404, reason="not_found")
    status = answer.status if answer.status in (403, 409, 422, 429) else 400
    return await order_page(visit, customer, order_id, status, refusal=refusal_text(visit, answer) or answer.code)


@router.get("/orders")
async def list_orders(visit: VisitDep, customer: TokenDep, cursor: CursorDep = None) -> Response:
    answer = still_signed_in(visit, await visit.orders.list_orders(visit.caller, customer.token, cursor))
    if cursor and cursor_refused(answer):
        return redirect("/orders")
    return render(
        visit,
        "orders.html",
        orders=answer.body.get("items", []) if answer.ok else [],
        cursor=cursor,
        next=answer.body.get("next") if answer.ok else None,
    )


@router.get("/orders/{order_id}")
async def show_order(visit: VisitDep, customer: TokenDep, order_id: OrderIdDep) -> Response:
    return await order_page(visit, customer, order_id)


@router.post("/orders/{order_id}/cancel")
async def cancel_order(visit: VisitDep, customer: TokenDep, order_id: OrderIdDep, _form: FormDep) -> Response:
    answer = still_signed_in(visit, await visit.orders.cancel_order(visit.caller, customer.token, order_id))
    return await act(visit, customer, order_id, answer, "cancelled")


@router.post("/orders/{order_id}/return")
async def request_return(visit: VisitDep, customer: TokenDep, order_id: OrderIdDep, form: FormDep) -> Response:
    line_ids = [line_id[:64] for line_id in form.choices("line")][:50]
    if not line_ids:
        return await order_page(
            visit, customer, order_id, 422, refusal=visit.reader.gettext("Please tick what you are sending back.")
        )
    answer = still_signed_in(visit, await visit.orders.request_return(visit.caller, customer.token, order_id, line_ids))
    return await act(visit, customer, order_id, answer, "return_requested")


@router.post("/orders/{order_id}/not-me")
async def report_not_mine(visit: VisitDep, customer: TokenDep, order_id: OrderIdDep, _form: FormDep) -> Response:
    answer = still_signed_in(visit, await visit.orders.report_not_mine(visit.caller, customer.token, order_id))
    return await act(visit, customer, order_id, answer, "not_mine")


@router.get("/orders/{order_id}/confirmation.pdf")
async def refund_confirmation(visit: VisitDep, customer: TokenDep, order_id: OrderIdDep) -> Response:
    """Orders' printable confirmation, passed through as it came (never cached)."""
    pdf = await visit.orders.get_refund_confirmation_pdf(visit.caller, customer.token, order_id)
    if pdf.status != 200 or pdf.content_type != "application/pdf":
        return render(visit, "error.html", 404, reason="not_found")
    headers = {"content-disposition": pdf.disposition or "inline", "x-content-type-options": "nosniff"}
    return Response(pdf.content, media_type="application/pdf", headers=headers)


@router.post("/security/one-click")
async def set_one_click(visit: VisitDep, customer: CustomerDep, form: FormDep) -> Response:
    enabled = form.text("enabled", 8) == "on"
    answer = still_signed_in(visit, await visit.orders.set_one_click(visit.caller, customer.token, enabled))
    if not answer.ok:
        return render(visit, "error.html", 409, reason="bad_request")
    return redirect(f"/security?notice=one_click_{'on' if enabled else 'off'}")
