"""The security page: e-mail and password changes (after a recent sign-in), TOTP with a QR code and
recovery codes, the passkey list (its changes are in :mod:`portal.pages.passkeys`), sessions with
sign-out everywhere, security events and the re-check list.

Auth decides every rule (how recent a sign-in must be, which codes are right); this module turns
its answers into pages. A change that needs a fresh sign-in sends the customer to sign in again
and back here, rather than failing.
"""

from __future__ import annotations

import segno
from fastapi import APIRouter
from fastapi.responses import Response
from markupsafe import Markup

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

EVENTS_PAGE_SIZE = 25
RECHECK_ITEMS = ("payment_methods", "addresses", "subscriptions")


def qr_svg(uri: str, title: str) -> Markup:
    """The ``otpauth://`` URI as an inline SVG QR code (dark on light, for any scanner)."""
    return Markup(segno.make(uri, error="m").svg_inline(scale=4, border=4, dark="#000", light="#fff", title=title))


async def security_page(visit: Visit, customer: Customer, status: int = 200, **context: object) -> Response:
    """The page with the customer's passkeys listed (``listPasskeys``), newest first as auth sends them."""
    listing = still_signed_in(visit, await visit.auth.list_passkeys(visit.caller, customer.token))
    defaults: dict[str, object] = {
        "error": None,
        "form": None,
        "notice": visit.request.query_params.get("notice"),
        "passkeys": listing.body.get("passkeys", []) if listing.ok else [],
    }
    return render(visit, "security.html", status, me=customer.me, **{**defaults, **context})


async def refused(visit: Visit, customer: Customer, answer: Answer, form: str) -> Response:
    """A change auth refused; a stale sign-in goes to the sign-in page and comes back here."""
    if answer.code == "reauthentication_required":
        return render(visit, "reauthenticate.html", 401, email=customer.me.get("email", ""))
    status = answer.status if answer.status in (403, 404, 409, 410, 422, 429) else 400
    return await security_page(
        visit, customer, status, error=answer.code, form=form, attempts_left=answer.body.get("attempts_left")
    )


@router.get("/security")
async def overview(visit: VisitDep, customer: CustomerDep) -> Response:
    return await security_page(visit, customer)


@router.post("/security/email")
async def change_email(visit: VisitDep, customer: CustomerDep, form: FormDep) -> Response:
    new_email = form.text("new_email")
    if not new_email:
        return await security_page(visit, customer, 422, error="missing_fields", form="email")
    answer = still_signed_in(visit, await visit.auth.change_email(visit.caller, customer.token, new_email))
    if not answer.ok:
        return await refused(visit, customer, answer, "email")
    return render(
        visit,
        "email_confirm.html",
        challenge_id=answer.body.get("challenge_id"),
        sent_to=answer.body.get("sent_to"),
        expires_at=answer.body.get("expires_at"),
        error=None,
    )


@router.post("/security/email/confirm")
async def confirm_email(visit: VisitDep, customer: CustomerDep, form: FormDep) -> Response:
    challenge_id, code = form.text("challenge_id", 64), form.text("code", 16).replace(" ", "")
    if not (challenge_id and code):
        return render(
            visit,
            "email_confirm.html",
            422,
            challenge_id=challenge_id,
            sent_to=None,
            expires_at=None,
            error="missing_fields",
        )
    answer = still_signed_in(
        visit, await visit.auth.confirm_email_change(visit.caller, customer.token, challenge_id, code)
    )
    if answer.code == "invalid_code":
        return render(
            visit,
            "email_confirm.html",
            422,
            challenge_id=challenge_id,
            sent_to=None,
            expires_at=None,
            error="invalid_code",
        )
    if not answer.ok:
        return await refused(visit, customer, answer, "email")
    return redirect("/security?notice=email_changed")


@router.post("/security/password")
async def change_password(visit: VisitDep, customer: CustomerDep, form: FormDep) -> Response:
    current, new = form.secret("current_password"), form.secret("new_password")
    if not (current and new):
        return await security_page(visit, customer, 422, error="missing_fields", form="password")
    answer = still_signed_in(
        visit,
        await visit.auth.change_password(visit.caller, customer.token, current, new, form.flag("end_other_sessions")),
    )
    if not answer.ok:
        return await refused(visit, customer, answer, "password")
    return redirect("/security?notice=password_changed")


@router.post("/security/totp")
async def enroll_totp(visit: VisitDep, customer: CustomerDep, _form: FormDep) -> Response:
    answer = still_signed_in(visit, await visit.auth.enroll_totp(visit.caller, customer.token))
    if not answer.ok:
        return await refused(visit, customer, answer, "totp")
    uri = str(answer.body.get("otpauth_uri", ""))
    return render(
        visit,
        "totp_enroll.html",
        action="/security/totp/confirm",
        open_until=None,
        secret=answer.body.get("secret"),
        error=None,
        qr=qr_svg(uri, visit.reader.gettext("QR code for your authenticator app")),
    )


@router.post("/security/totp/confirm")
async def confirm_totp(visit: VisitDep, customer: CustomerDep, form: FormDep) -> Response:
    code = form.text("code", 16).replace(" ", "")
    answer = still_signed_in(visit, await visit.auth.confirm_totp(visit.caller, customer.token, code or "-"))
    if not answer.ok:
        return await security_page(
            visit,
            customer,
            422 if answer.code == "invalid_code" else answer.status if answer.status in (401, 409, 422, 429) else 400,
            error=answer.code,
            form="totp",
        )
    return render(visit, "recovery_codes.html", codes=answer.body.get("recovery_codes", []), kind="totp")


@router.get("/security/sessions")
async def sessions(visit: VisitDep, customer: TokenDep, cursor: CursorDep = None) -> Response:
    answer = still_signed_in(visit, await visit.auth.list_sessions(visit.caller, customer.token, cursor))
    if cursor and cursor_refused(answer):
        return redirect("/security/sessions")
    return render(
        visit,
        "sessions.html",
        sessions=answer.body.get("sessions", []),
        ended=visit.request.query_params.get("ended"),
        cursor=cursor,
        next=answer.body.get("next"),
    )


@router.post("/security/sessions/revoke")
async def revoke_sessions(visit: VisitDep, customer: TokenDep, form: FormDep) -> Response:
    session_id = form.text("session_id", 64) or None
    answer = still_signed_in(
        visit, await visit.auth.revoke_sessions(visit.caller, customer.token, session_id=session_id)
    )
    if not answer.ok:
        return render(visit, "error.html", 404, reason="not_found")
    return redirect(f"/security/sessions?ended={len(answer.body.get('revoked', []))}")


@router.get("/security/events")
async def security_events(visit: VisitDep, customer: TokenDep, cursor: CursorDep = None) -> Response:
    answer = still_signed_in(
        visit, await visit.auth.list_security_events(visit.caller, customer.token, EVENTS_PAGE_SIZE, cursor)
    )
    if cursor and cursor_refused(answer):
        return redirect("/security/events")
    return render(visit, "events.html", items=answer.body.get("items", []), cursor=cursor, next=answer.body.get("next"))


@router.post("/security/recheck")
async def acknowledge_recheck(visit: VisitDep, customer: TokenDep, form: FormDep) -> Response:
    items = [item for item in form.choices("item") if item in RECHECK_ITEMS]
    if items:
        still_signed_in(visit, await visit.auth.acknowledge_recheck(visit.caller, customer.token, items))
    return redirect("/account")
