"""Getting back in without anyone's help: self-service unlock (S1), "This was not me" (S5), and a
password reset. All of these work signed out: their customer is, by definition, locked out.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from portal.pages.signin import signed_in_or_asked
from portal.web import FormDep, VisitDep, render

router = APIRouter(include_in_schema=False)

#: sendUnlockCode's ``reason`` when no new code will be mailed to the address for now (not a throttle).
NO_NEW_CODE = "no_new_code"


# --- unlock: a mailed code and a new password -----------------------------------------------------


@router.get("/unlock")
async def unlock_page(visit: VisitDep) -> Response:
    return render(visit, "unlock.html", step="ask", email="", error=None, retry_after=None)


@router.post("/unlock/code")
async def send_unlock_code(visit: VisitDep, form: FormDep) -> Response:
    email = form.text("email")
    if not email:
        return render(visit, "unlock.html", 422, step="ask", email="", error="missing_fields", retry_after=None)
    answer = await visit.auth.send_unlock_code(visit.caller, email)
    if answer.code == "rate_limited" and answer.body.get("reason") == NO_NEW_CODE:
        # Not a throttle of this connection: no new code for this address, but one already mailed
        # still works, so the page keeps the code form and says until when.
        return render(
            visit,
            "unlock.html",
            429,
            step="code",
            email=email,
            error=NO_NEW_CODE,
            retry_after=answer.retry_after,
            code_minutes=answer.body.get("code_minutes"),
        )
    if answer.code == "rate_limited":
        return render(
            visit, "unlock.html", 429, step="ask", email=email, error="rate_limited", retry_after=answer.retry_after
        )
    return render(visit, "unlock.html", step="code", email=email, error=None, retry_after=None)


@router.post("/unlock")
async def unlock(visit: VisitDep, form: FormDep) -> Response:
    email, code, password = form.text("email"), form.text("code", 64).replace(" ", ""), form.secret("new_password")
    if not (email and code and password):
        return render(visit, "unlock.html", 422, step="code", email=email, error="missing_fields", retry_after=None)
    answer = await visit.auth.request_unlock(visit.caller, email, code, password)
    if answer.ok or answer.code == "challenge_required":
        # With TOTP or a passkey the account is unlocked but this browser still passes the step-up
        # those factors owe (the mailbox never stands in for them), as after a password sign-in.
        return await signed_in_or_asked(visit, answer, email, "/account?notice=unlocked")
    status = answer.status if answer.status in (401, 422, 429) else 400
    return render(
        visit, "unlock.html", status, step="code", email=email, error=answer.code, retry_after=answer.retry_after
    )


# --- "This was not me": the revert code from the old mailbox ------------------------------------


@router.get("/not-me")
async def not_me_page(visit: VisitDep) -> Response:
    return render(visit, "not_me.html", result=None, error=None, retry_after=None)


@router.post("/not-me")
async def revert_change(visit: VisitDep, form: FormDep) -> Response:
    code = form.text("code", 64)
    if not code:
        return render(visit, "not_me.html", 422, result=None, error="missing_fields", retry_after=None)
    answer = await visit.auth.revert_change(visit.caller, code)
    if answer.ok:
        return render(visit, "not_me.html", result=answer.body, error=None, retry_after=None)
    status = answer.status if answer.status in (404, 410, 422, 429) else 400
    return render(visit, "not_me.html", status, result=None, error=answer.code, retry_after=answer.retry_after)


# --- password reset: a mailed code, after the cool-down a freeze starts -------------------------


@router.get("/reset")
async def reset_page(visit: VisitDep) -> Response:
    return render(visit, "reset.html", step="ask", error=None, done=None)


@router.post("/reset")
async def request_reset(visit: VisitDep, form: FormDep) -> Response:
    email = form.text("email")
    if not email:
        return render(visit, "reset.html", 422, step="ask", error="missing_fields", done=None)
    answer = await visit.auth.request_password_reset(visit.caller, email)
    if answer.code == "rate_limited":
        return render(visit, "reset.html", 429, step="ask", error="rate_limited", done=None)
    if answer.status == 422:
        return render(visit, "reset.html", 422, step="ask", error="invalid_email", done=None)
    return render(visit, "reset.html", step="code", error=None, done=None)


@router.post("/reset/confirm")
async def confirm_reset(visit: VisitDep, form: FormDep) -> Response:
    code, password = form.text("code", 256).replace(" ", ""), form.secret("new_password")
    if not (code and password):
        return render(visit, "reset.html", 422, step="code", error="missing_fields", done=None)
    answer = await visit.auth.confirm_password_reset(visit.caller, code, password)
    if answer.ok:
        return render(visit, "reset.html", step="done", error=None, done=answer.body)
    status = answer.status if answer.status in (401, 403, 404, 410, 422, 429) else 400
    return render(visit, "reset.html", status, step="code", error=answer.code, done=None)
