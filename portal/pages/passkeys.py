"""Passkeys: signing in with one, and adding, renaming and removing them on the security page.

The ceremonies run in the browser (``/static/passkeys.js``) but every call to auth is made here,
with the customer's token held server-side: the script only asks this portal for the options
(a CSRF-checked form post answered with JSON) and then posts the credential the browser made back
in an ordinary form, whose answer is a page like any other. A sign-in with a passkey therefore
ends exactly as the password sign-in does (:func:`portal.pages.signin.start_session`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from portal.client import Answer, ServiceUnavailable
from portal.pages.security import refused, security_page
from portal.pages.signin import MAX_CREDENTIAL_CHARS, read_credential, signed_in_or_asked
from portal.web import (
    CsrfRejected,
    Customer,
    CustomerDep,
    FormDep,
    SignInRequired,
    Visit,
    VisitDep,
    read_form,
    redirect,
    render,
    safe_next,
    session_tokens,
    still_signed_in,
)

router = APIRouter(include_in_schema=False)

NAME_MAX = 64
PasskeyId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def message(visit: Visit, code: str, retry_after: int | None = None) -> str:
    """What the script shows when the options could not be had (the ceremony did not start)."""
    gettext = visit.reader.gettext
    if code == "rate_limited" and retry_after:
        return gettext(
            "Too many attempts from this connection. Please try again in %(minutes)s min., at %(time)s.",
            minutes=visit.reader.wait_minutes(retry_after),
            time=visit.reader.time_after(retry_after),
        )
    texts = {
        "csrf": gettext("This page has expired. Please reload it and try again."),
        "signed_out": gettext("You are signed out. Please sign in again."),
        "reauthentication_required": gettext("Please sign in again first: adding a passkey needs a recent sign-in."),
        "account_restricted": gettext(
            "Your account is restricted while a case is open, so this change is not possible now."
        ),
        "rate_limited": gettext("Too many attempts from this connection. Please wait a moment."),
        "too_many_passkeys": gettext(
            "Your account has as many passkeys as it can hold. Remove one you no longer use first."
        ),
        "unavailable": gettext("A part of Mamori does not answer right now. Please try again in a few minutes."),
    }
    return texts.get(code, gettext("Passkeys cannot be used right now. Please use another way."))


def problem_json(
    visit: Visit, status: int, code: str, retry_after: int | None = None, next_path: str | None = None
) -> JSONResponse:
    body: dict[str, object] = {"error": code, "message": message(visit, code, retry_after)}
    if next_path:
        body["next"] = next_path
    return JSONResponse(body, status_code=status)


def options_json(visit: Visit, answer: Answer) -> JSONResponse:
    """Auth's ceremony options as the script needs them, or a problem it can show."""
    if answer.ok:
        return JSONResponse({"ceremony_id": answer.body.get("ceremony_id"), "options": answer.body.get("options")})
    code = answer.code or "error"
    if code == "reauthentication_required":
        return problem_json(visit, 401, code, next_path="/security/reauthenticate")
    status = answer.status if answer.status in (401, 403, 404, 409, 422, 429) else 400
    return problem_json(visit, status, code, answer.retry_after or answer.body.get("retry_after"))


async def checked(request: Request) -> JSONResponse | None:
    """A problem answer when the post's CSRF token is wrong (JSON, for the script), else None."""
    try:
        await read_form(request)
    except CsrfRejected:
        return problem_json(request.state.visit, 403, "csrf")
    return None


# --- signing in -------------------------------------------------------------------------------


@router.post("/signin/passkey/options")
async def passkey_sign_in_options(visit: VisitDep, request: Request) -> Response:
    refusal = await checked(request)
    if refusal is not None:
        return refusal
    try:
        answer = await visit.auth.begin_passkey_sign_in(visit.caller)
    except ServiceUnavailable:
        return problem_json(visit, 503, "unavailable")
    return options_json(visit, answer)


@router.post("/signin/passkey")
async def passkey_sign_in(visit: VisitDep, form: FormDep) -> Response:
    next_path = safe_next(form.text("next", 200))
    credential = read_credential(form.secret("credential", MAX_CREDENTIAL_CHARS))
    ceremony_id = form.text("ceremony_id", 64)
    if credential is None or not ceremony_id:
        return render(visit, "signin.html", 422, email="", next=next_path, error="passkey_missing", retry_after=None)
    answer = await visit.auth.finish_passkey_sign_in(visit.caller, ceremony_id, credential)
    return await signed_in_or_asked(visit, answer, "", next_path)


# --- the security page's passkeys -------------------------------------------------------------


@router.get("/security/reauthenticate")
async def reauthenticate(visit: VisitDep, customer: CustomerDep) -> Response:
    """Where the script sends a customer whose sign-in is too old to add a passkey."""
    return render(visit, "reauthenticate.html", email=customer.me.get("email", ""))


@router.post("/security/passkeys/options")
async def passkey_registration_options(visit: VisitDep, request: Request) -> Response:
    refusal = await checked(request)
    if refusal is not None:
        return refusal
    try:
        tokens = await session_tokens(request)
        answer = await visit.auth.begin_passkey_registration(visit.caller, tokens.access_token)
        answer = still_signed_in(visit, answer)
    except SignInRequired:
        return problem_json(visit, 401, "signed_out", next_path="/signin?next=/security")
    except ServiceUnavailable:
        return problem_json(visit, 503, "unavailable")
    return options_json(visit, answer)


@router.post("/security/passkeys")
async def add_passkey(visit: VisitDep, customer: CustomerDep, form: FormDep) -> Response:
    credential = read_credential(form.secret("credential", MAX_CREDENTIAL_CHARS))
    ceremony_id = form.text("ceremony_id", 64)
    if credential is None or not ceremony_id:
        return await security_page(visit, customer, 422, error="passkey_missing", form="passkeys")
    name = form.text("passkey_name", NAME_MAX) or None
    answer = still_signed_in(
        visit, await visit.auth.finish_passkey_registration(visit.caller, customer.token, ceremony_id, credential, name)
    )
    if not answer.ok:
        return await refused(visit, customer, answer, "passkeys")
    if answer.body.get("recovery_codes"):  # the way back in if this passkey is lost: shown only now
        return render(visit, "recovery_codes.html", codes=answer.body["recovery_codes"], kind="passkey")
    return redirect("/security?notice=passkey_added")


@router.post("/security/passkeys/{passkey_id}/rename")
async def rename_passkey(visit: VisitDep, customer: CustomerDep, form: FormDep, passkey_id: PasskeyId) -> Response:
    name = form.text("name", NAME_MAX)
    if not name:
        return await security_page(visit, customer, 422, error="missing_fields", form="passkeys")
    answer = still_signed_in(visit, await visit.auth.rename_passkey(visit.caller, customer.token, passkey_id, name))
    if not answer.ok:
        return await passkey_refused(visit, customer, answer)
    return redirect("/security?notice=passkey_renamed")


@router.post("/security/passkeys/{passkey_id}/remove")
async def remove_passkey(visit: VisitDep, customer: CustomerDep, _form: FormDep, passkey_id: PasskeyId) -> Response:
    answer = still_signed_in(visit, await visit.auth.delete_passkey(visit.caller, customer.token, passkey_id))
    if not answer.ok:
        return await passkey_refused(visit, customer, answer)
    return redirect("/security?notice=passkey_removed")


@router.post("/security/passkey-required")
async def set_passkey_required(visit: VisitDep, customer: CustomerDep, form: FormDep) -> Response:
    required = form.flag("required")
    answer = still_signed_in(visit, await visit.auth.set_passkey_required(visit.caller, customer.token, required))
    if not answer.ok:
        return await refused(visit, customer, answer, "passkeys")
    codes = answer.body.get("recovery_codes")
    if required and codes:
        return render(visit, "recovery_codes.html", codes=codes, kind="passkey_required")
    return redirect(f"/security?notice=passkey_required_{'on' if required else 'off'}")


async def passkey_refused(visit: Visit, customer: Customer, answer: Answer) -> Response:
    """Another customer's passkey, or one already removed, reads as "not on your account" (404)."""
    if answer.code == "not_found":
        return await security_page(visit, customer, 404, error="passkey_not_found", form="passkeys")
    return await refused(visit, customer, answer, "passkeys")
