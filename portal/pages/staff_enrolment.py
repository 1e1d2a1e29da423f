"""A staff account with no second factor sets up TOTP on the portal, then signs in with it.

Auth answers such an account's right password with ``403 second_factor_enrolment_required`` and
an enrolment token that opens only ``enrollStaffTotp`` and ``confirmStaffTotp``
(``services/auth/staff/second_factor.py``). The portal starts the enrolment at once and keeps the
token, with the pending secret, where it keeps a step-up's challenge: an HttpOnly cookie, here
SameSite=Strict and sent back only to ``/signin/enrol``, never in a URL or a page. Why the secret
too: a wrong code or a reload shows the same QR code again; asking auth for a new secret would
silently void the one the app just scanned. Once TOTP is on, the token is spent and the cookie
goes; the staff member signs in again, password and code, as every staff sign-in does.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from portal.client import Answer
from portal.pages.security import qr_svg
from portal.session import STAFF_ENROLMENT_COOKIE
from portal.web import FormDep, Visit, VisitDep, redirect, render

router = APIRouter(include_in_schema=False)

ENROL_PAGE = "/signin/enrol"
#: As long as auth's enrolment token lives (its ``email_code_seconds``, ten minutes), no longer.
ENROLMENT_COOKIE_SECONDS = 600
#: Auth's tokens are about 80 characters (challenge id, a dot, 43 random ones).
MAX_TOKEN_LENGTH = 128
MAX_COOKIE_LENGTH = 2048


def pack_enrolment(token: str, secret: str, uri: str, expires_at: str, email: str) -> str:
    raw = json.dumps({"token": token, "secret": secret, "uri": uri, "expires_at": expires_at, "email": email})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def unpack_enrolment(value: str | None) -> dict[str, str] | None:
    """The enrolment under way, or None for a missing or tampered cookie."""
    if not value or len(value) > MAX_COOKIE_LENGTH:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(key), str) for key in ("token", "secret", "uri")):
        return None
    if not data["token"] or len(data["token"]) > MAX_TOKEN_LENGTH or not data["uri"].startswith("otpauth://"):
        return None
    return {
        "token": data["token"],
        "secret": data["secret"][:64],
        "uri": data["uri"][:512],
        "expires_at": str(data.get("expires_at") or "")[:40],
        "email": str(data.get("email") or "")[:320],
    }


def _sign_in_again(visit: Visit, status: int, error: str | None, email: str) -> Response:
    """Back to the sign-in page: the enrolment is over (spent, expired or refused)."""
    visit.delete_cookie(STAFF_ENROLMENT_COOKIE, path=ENROL_PAGE)
    return render(visit, "signin.html", status, email=email, next="/account", error=error, retry_after=None)


async def begin(visit: Visit, answer: Answer, email: str) -> Response:
    """The right password of a staff account with no second factor: start TOTP with the enrolment
    token (``enrollStaffTotp``) and go to the set-up page (a reload there shows the same secret)."""
    token = answer.body.get("enrolment_token")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return _sign_in_again(visit, 403, "second_factor_enrolment_required", email)
    started = await visit.auth.enroll_staff_totp(visit.caller, token)
    if not started.ok:
        return _sign_in_again(visit, 401 if started.status == 401 else 400, started.code, email)
    packed = pack_enrolment(
        token,
        str(started.body.get("secret", "")),
        str(started.body.get("otpauth_uri", "")),
        str(answer.body.get("expires_at") or ""),
        email,
    )
    visit.set_cookie(STAFF_ENROLMENT_COOKIE, packed, ENROLMENT_COOKIE_SECONDS, path=ENROL_PAGE, samesite="strict")
    return redirect(ENROL_PAGE)


def enrol_page(visit: Visit, enrolment: dict[str, Any], status: int = 200, error: str | None = None) -> Response:
    return render(
        visit,
        "totp_enroll.html",
        status,
        action=ENROL_PAGE,
        open_until=enrolment["expires_at"] or None,
        secret=enrolment["secret"],
        error=error,
        qr=qr_svg(enrolment["uri"], visit.reader.gettext("QR code for your authenticator app")),
    )


@router.get(ENROL_PAGE)
async def show(visit: VisitDep) -> Response:
    enrolment = unpack_enrolment(visit.request.cookies.get(STAFF_ENROLMENT_COOKIE))
    if enrolment is None:
        return redirect("/signin")
    return enrol_page(visit, enrolment)


@router.post(ENROL_PAGE)
async def confirm(visit: VisitDep, form: FormDep) -> Response:
    enrolment = unpack_enrolment(visit.request.cookies.get(STAFF_ENROLMENT_COOKIE))
    if enrolment is None:
        return _sign_in_again(visit, 401, "enrolment_invalid", "")
    email = enrolment["email"]
    code = form.text("code", 16).replace(" ", "")
    if not code:
        return enrol_page(visit, enrolment, 422, "missing_code")
    answer = await visit.auth.confirm_staff_totp(visit.caller, enrolment["token"], code)
    if answer.code == "invalid_code":
        return enrol_page(visit, enrolment, 422, "invalid_code")
    if not answer.ok:
        status = answer.status if answer.status in (401, 409, 422, 429) else 400
        return _sign_in_again(visit, status, "enrolment_invalid" if status in (401, 409) else answer.code, email)
    visit.delete_cookie(STAFF_ENROLMENT_COOKIE, path=ENROL_PAGE)
    return render(visit, "recovery_codes.html", codes=answer.body.get("recovery_codes", []), kind="staff")
