"""The staff console: specialists' review queue, the case review with its documents and the
decision form with the catalogue's reasons; support staff see state, checklist and timeline only.

Staff sign in on the customers' sign-in page; the role comes from their token (``getMe``).
Verification enforces who may see what (a support token gets 403 on documents); the console
follows the same split so support never even gets a link to a document.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from portal.pages.cases import is_case_id
from portal.web import (
    CursorDep,
    Customer,
    CustomerDep,
    FormDep,
    Visit,
    VisitDep,
    cursor_refused,
    redirect,
    render,
    still_signed_in,
)
from services.verification.catalogue import REASONS

router = APIRouter(include_in_schema=False)

#: Roles that review documents and decide; every other staff role (support) reads the status only.
REVIEWERS = ("specialist", "admin")
DECISIONS = ("approve", "request_more", "reject")


def reasons_by_decision(language: str) -> dict[str, list[tuple[str, str]]]:
    """The reason catalogue verification checks decisions against: (code, text) per decision."""
    return {
        decision: [
            (code, getattr(reason.text, language))
            for code, reason in sorted(REASONS.items())
            if decision in reason.decisions
        ]
        for decision in DECISIONS
    }


def staff_only(visit: Visit, customer: Customer) -> Response | None:
    """Anyone else gets the same 404 as an unknown page: the console is not advertised."""
    return None if customer.is_staff else render(visit, "error.html", 404, reason="not_found")


def reviews(customer: Customer) -> bool:
    return customer.me.get("role") in REVIEWERS


@router.get("/staff")
async def queue(visit: VisitDep, customer: CustomerDep, cursor: CursorDep = None) -> Response:
    if (refused := staff_only(visit, customer)) is not None:
        return refused
    answer = still_signed_in(visit, await visit.staff.list_review_queue(visit.caller, customer.token, cursor))
    if cursor and cursor_refused(answer):
        return redirect("/staff")
    return render(
        visit,
        "staff_queue.html",
        items=answer.body.get("items", []) if answer.ok else [],
        role=customer.me.get("role"),
        cursor=cursor,
        next=answer.body.get("next") if answer.ok else None,
    )


async def review_page(
    visit: Visit, customer: Customer, case_id: str, status: int = 200, error: str | None = None
) -> Response:
    if not is_case_id(case_id):
        return render(visit, "error.html", 404, reason="not_found")
    if reviews(customer):
        answer = await visit.staff.get_case_for_review(visit.caller, customer.token, case_id)
    else:
        answer = await visit.staff.get_case_for_support(visit.caller, customer.token, case_id)
    answer = still_signed_in(visit, answer)
    if not answer.ok:
        return render(visit, "error.html", 404, reason="not_found")
    notice = visit.request.query_params.get("notice")
    return render(
        visit,
        "staff_case.html",
        status,
        case=answer.body,
        reviewer=reviews(customer),
        error=error,
        reasons=reasons_by_decision(visit.reader.language),
        notice=notice,
    )


@router.get("/staff/cases/{case_id}")
async def case_review(visit: VisitDep, customer: CustomerDep, case_id: str) -> Response:
    if (refused := staff_only(visit, customer)) is not None:
        return refused
    return await review_page(visit, customer, case_id)


@router.post("/staff/cases/{case_id}/decision")
async def decide(visit: VisitDep, customer: CustomerDep, case_id: str, form: FormDep) -> Response:
    if not (customer.is_staff and reviews(customer)) or not is_case_id(case_id):
        return render(visit, "error.html", 404, reason="not_found")
    decision, reason_code = form.text("decision", 16), form.text("reason_code", 64)
    if decision not in DECISIONS or not reason_code:
        return await review_page(visit, customer, case_id, 422, "missing_fields")
    order_action = "cancel" if form.text("order_action", 8) == "cancel" else "release"
    answer = still_signed_in(
        visit,
        await visit.staff.decide_case(
            visit.caller, customer.token, case_id, decision, reason_code, order_action, form.text("note", 2000)
        ),
    )
    if answer.ok:
        return redirect(f"/staff/cases/{case_id}?notice=decided")
    if answer.status == 404:
        return render(visit, "error.html", 404, reason="not_found")
    return await review_page(
        visit, customer, case_id, answer.status if answer.status in (409, 422) else 400, answer.code
    )


@router.get("/staff/documents/{document_id}")
async def document(visit: VisitDep, customer: CustomerDep, document_id: str) -> Response:
    """A document, downloaded (never shown inline): specialists and admins only."""
    if not (customer.is_staff and reviews(customer)) or not is_case_id(document_id):
        return render(visit, "error.html", 404, reason="not_found")
    download = await visit.staff.download_document(visit.caller, customer.token, document_id)
    if download.status != 200:
        return render(visit, "error.html", 404, reason="not_found")
    return Response(
        download.content,
        media_type=download.content_type or "application/octet-stream",
        headers={"content-disposition": f'attachment; filename="{document_id}"', "x-content-type-options": "nosniff"},
    )
