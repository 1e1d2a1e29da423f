"""The customer's cases: the list, one case (state, checklist, promised answer time, timeline), the
statement upload (refused while a full card number shows, with the page where it was), typed
supplements and a callback request.

Verification decides every rule (what a statement must show, when a case takes no more input);
this module turns its answers into pages. Another customer's case answers 404 like an unknown one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response

from portal.client import Answer
from portal.web import (
    CursorDep,
    Customer,
    FormDep,
    TokenDep,
    UploadDep,
    Visit,
    VisitDep,
    cursor_refused,
    redirect,
    render,
    still_signed_in,
)

router = APIRouter(include_in_schema=False)

#: Paths ending so carry a document: the portal reads up to the upload limit for them.
UPLOAD_SUFFIX = "/documents"
#: Checklist items a customer may type in instead of showing them on a statement (verification's list).
SUPPLEMENT_ITEMS = ("billing_name", "billing_address", "cardholder_phone")
#: The checklist item a document upload meets.
STATEMENT_ITEM = "statement"
#: States in which a case still takes documents, supplements and callback requests.
OPEN_STATES = ("awaiting_customer", "in_review", "more_needed")
#: Refusals that are about what was sent (the case page shows them); anything else is "not found".
_INPUT_REFUSALS = (400, 409, 413, 415, 422, 429)


def is_case_id(case_id: str) -> bool:
    return 0 < len(case_id) <= 32 and case_id.replace("-", "").replace("_", "").isalnum()


def case_id_of(case_id: str) -> str:
    """The path's case id, or the 404 page before any service is asked."""
    if not is_case_id(case_id):
        raise HTTPException(404)
    return case_id


CaseIdDep = Annotated[str, Depends(case_id_of)]


def takes_statement(case: dict[str, Any]) -> bool:
    """Only a case whose checklist (verification's, per kind) asks for a statement offers the upload:
    a not-mine report or an intrusion asks the customer for nothing."""
    return any(item.get("code") == STATEMENT_ITEM for item in case.get("checklist", []))


async def case_page(visit: Visit, customer: Customer, case_id: str, status: int = 200, **context: Any) -> Response:
    """The case page, or 404 for an id that is not one of the customer's cases."""
    answer = still_signed_in(visit, await visit.verification.get_case(visit.caller, customer.token, case_id))
    if not answer.ok:
        return render(visit, "error.html", 404, reason="not_found")
    case = answer.body
    defaults: dict[str, Any] = {
        "error": None,
        "form": None,
        "notice": visit.request.query_params.get("notice"),
        "typed": {},
        "max_file_bytes": visit.settings.max_file_bytes,
    }
    supplementable = [
        item
        for item in case.get("checklist", [])
        if item["code"] in SUPPLEMENT_ITEMS and item["status"] in ("missing", "rejected")
    ]
    return render(
        visit,
        "case.html",
        status,
        case=case,
        is_open=case.get("state") in OPEN_STATES,
        supplementable=supplementable,
        takes_statement=takes_statement(case),
        **{**defaults, **context},
    )


async def after_change(
    visit: Visit, customer: Customer, case_id: str, answer: Answer, notice: str, form: str, **context: Any
) -> Response:
    """Back to the case with a notice, or the case page again with verification's refusal."""
    if answer.ok:
        return redirect(f"/cases/{case_id}?notice={notice}")
    if answer.status == 404:
        return render(visit, "error.html", 404, reason="not_found")
    status = answer.status if answer.status in _INPUT_REFUSALS else 400
    context.setdefault("error", answer.code)
    return await case_page(visit, customer, case_id, status, form=form, **context)


@router.get("/cases")
async def list_cases(visit: VisitDep, customer: TokenDep, cursor: CursorDep = None) -> Response:
    answer = still_signed_in(visit, await visit.verification.list_cases(visit.caller, customer.token, cursor))
    if cursor and cursor_refused(answer):
        return redirect("/cases")
    items = answer.body.get("items", []) if answer.ok else []
    return render(
        visit,
        "cases.html",
        open_cases=[case for case in items if case["state"] in OPEN_STATES],
        past_cases=[case for case in items if case["state"] not in OPEN_STATES],
        cursor=cursor,
        next=answer.body.get("next") if answer.ok else None,
    )


@router.get("/cases/{case_id}")
async def show_case(visit: VisitDep, customer: TokenDep, case_id: CaseIdDep) -> Response:
    return await case_page(visit, customer, case_id)


@router.post("/cases/{case_id}" + UPLOAD_SUFFIX)
async def upload_document(visit: VisitDep, customer: TokenDep, case_id: CaseIdDep, upload: UploadDep) -> Response:
    _form, posted = upload
    if posted is None or not posted.content:
        return await case_page(visit, customer, case_id, 422, error="file_missing", form="upload")
    answer = still_signed_in(
        visit,
        await visit.verification.upload_document(
            visit.caller, customer.token, case_id, posted.filename[:200], posted.content, posted.content_type
        ),
    )
    if answer.code == "card_number_visible":
        return render(
            visit,
            "card_found.html",
            422,
            case_id=case_id,
            filename=posted.filename[:200],
            pages=[int(page) for page in answer.body.get("pages", []) if str(page).isdigit()],
        )
    return await after_change(visit, customer, case_id, answer, "uploaded", "upload")


@router.post("/cases/{case_id}/supplements")
async def add_supplement(visit: VisitDep, customer: TokenDep, case_id: CaseIdDep, form: FormDep) -> Response:
    item, value = form.text("item", 32), form.text("value", 500)
    if item not in SUPPLEMENT_ITEMS or not value:
        return await case_page(visit, customer, case_id, 422, error="missing_fields", form="supplement")
    answer = still_signed_in(
        visit, await visit.verification.add_supplement(visit.caller, customer.token, case_id, item, value)
    )
    # A refused text is not echoed back: it may hold the card number that was the reason.
    return await after_change(visit, customer, case_id, answer, "supplement_added", "supplement")


@router.post("/cases/{case_id}/callback")
async def request_callback(visit: VisitDep, customer: TokenDep, case_id: CaseIdDep, form: FormDep) -> Response:
    phone, note = form.text("phone", 32), form.text("note", 1000)
    if not phone:
        return await case_page(visit, customer, case_id, 422, error="missing_fields", form="callback")
    answer = still_signed_in(
        visit, await visit.verification.request_callback(visit.caller, customer.token, case_id, phone, note)
    )
    error = "invalid_phone" if answer.code == "validation_error" else answer.code
    return await after_change(
        visit,
        customer,
        case_id,
        answer,
        "callback_requested",
        "callback",
        error=error,
        typed={"phone": phone, "note": note},
    )
