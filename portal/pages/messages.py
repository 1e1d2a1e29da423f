"""The message centre, and "check a mail", which works signed out too.

Every mail Mamori sends stands in the centre with its reference code. A customer who doubts a
mail pastes it (or its code) into the check; signed out, auth says only whether the code is
genuine (an owner locked out by an intruder needs exactly that, and nothing more may leak).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from portal.web import (
    CursorDep,
    FormDep,
    MaybeCustomerDep,
    TokenDep,
    VisitDep,
    cursor_refused,
    redirect,
    render,
    still_signed_in,
)

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
#: A reference code is short; anything longer was meant for the text box.
MAX_CODE_LENGTH = 64


@router.get("/messages")
async def message_centre(visit: VisitDep, customer: TokenDep, cursor: CursorDep = None) -> Response:
    answer = still_signed_in(visit, await visit.auth.list_messages(visit.caller, customer.token, PAGE_SIZE, cursor))
    if cursor and cursor_refused(answer):
        return redirect("/messages")
    return render(
        visit,
        "messages.html",
        items=answer.body.get("items", []),
        cursor=cursor,
        next=answer.body.get("next"),
        total=int(answer.body.get("total", 0)),
    )


@router.get("/messages/check")
async def check_page(visit: VisitDep, customer: MaybeCustomerDep) -> Response:
    return render(
        visit,
        "check.html",
        verdict=None,
        error=None,
        signed_in_customer=customer is not None,
        reference_code="",
        text="",
    )


@router.post("/messages/check")
async def check_mail(visit: VisitDep, form: FormDep, customer: MaybeCustomerDep) -> Response:
    code, text = form.text("reference_code", MAX_CODE_LENGTH), form.secret("text", visit.settings.max_form_bytes)
    signed = customer is not None
    if not code and not text.strip():
        return render(
            visit,
            "check.html",
            422,
            verdict=None,
            error="missing_fields",
            signed_in_customer=signed,
            reference_code="",
            text="",
        )
    answer = await visit.auth.verify_message(
        visit.caller, customer.token if customer else None, code or None, None if code else text
    )
    if not answer.ok:
        status = answer.status if answer.status in (413, 422, 429) else 400
        return render(
            visit,
            "check.html",
            status,
            verdict=None,
            error=answer.code,
            signed_in_customer=signed,
            reference_code=code,
            text=text,
        )
    return render(
        visit, "check.html", verdict=answer.body, error=None, signed_in_customer=signed, reference_code=code, text=text
    )
