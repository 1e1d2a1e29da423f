"""Signing in and out: the password, whatever step-up auth asks for, and what a refusal means.

A staff account with no second factor yet goes on to set one up (:mod:`portal.pages.staff_enrolment`).
Each answer of ``login`` and ``completeChallenge`` becomes a page the customer can act on: a
throttle says how long to wait, a lock says why, until when, under which case, and offers the
self-service unlock at once.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from portal.client import Answer
from portal.pages import staff_enrolment
from portal.session import CHALLENGE_COOKIE, CHALLENGE_PASSKEY_COOKIE, SESSION_COOKIE, Tokens
from portal.web import FormDep, Visit, VisitDep, end_session, redirect, render, safe_next

router = APIRouter(include_in_schema=False)

STEP_UP_METHODS = ("passkey", "email_code", "totp", "recovery_code")
#: A pending step-up lives as long as auth's challenge (ten minutes), no longer.
CHALLENGE_COOKIE_SECONDS = 600
#: Browsers keep cookies up to 4 KB: options larger than this are not offered (the other methods are).
MAX_PASSKEY_COOKIE = 3800
#: A credential from ``PublicKeyCredential.toJSON()``: a few KB at most (an attestation with certificates).
MAX_CREDENTIAL_CHARS = 64 * 1024


def pack_challenge(challenge_id: str, methods: list[str], next_path: str, email: str) -> str:
    raw = json.dumps({"id": challenge_id, "methods": methods, "next": next_path, "email": email})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def unpack_challenge(value: str | None) -> dict[str, Any] | None:
    """The pending step-up, or None for a missing or tampered cookie."""
    if not value or len(value) > 2048:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not isinstance(data.get("methods"), list):
        return None
    # The passkey first, whatever order auth sent: it is the method a phishing site cannot relay.
    known = [method for method in data["methods"] if method in STEP_UP_METHODS]
    methods = [method for method in known if method == "passkey"] + [method for method in known if method != "passkey"]
    if not methods:
        return None
    return {
        "id": data["id"][:64],
        "methods": methods,
        "next": safe_next(data.get("next") if isinstance(data.get("next"), str) else None),
        "email": str(data.get("email") or "")[:320],
    }


def pack_passkey_options(options: object) -> str | None:
    """The step-up's WebAuthn request options as a cookie value, or None when there are none or
    they would not fit in a cookie."""
    if not isinstance(options, dict) or not options:
        return None
    packed = base64.urlsafe_b64encode(json.dumps(options, separators=(",", ":")).encode()).decode()
    return packed if len(packed) <= MAX_PASSKEY_COOKIE else None


def unpack_passkey_options(value: str | None) -> str | None:
    """The options as JSON text for the page's passkey button, or None for a missing or tampered cookie."""
    if not value or len(value) > MAX_PASSKEY_COOKIE:
        return None
    try:
        options = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (ValueError, TypeError):
        return None
    if not isinstance(options, dict) or not isinstance(options.get("challenge"), str):
        return None
    return json.dumps(options, separators=(",", ":"))


def read_credential(raw: str) -> dict[str, Any] | None:
    """The browser's ``PublicKeyCredential.toJSON()``, or None when it is missing or not one.
    Auth verifies everything in it; the portal only refuses what cannot be a credential at all."""
    if not raw or len(raw) > MAX_CREDENTIAL_CHARS:
        return None
    try:
        credential = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(credential, dict) or credential.get("type") != "public-key":
        return None
    if not isinstance(credential.get("id"), str) or not isinstance(credential.get("response"), dict):
        return None
    return credential


async def start_session(visit: Visit, answer: Answer, next_path: str) -> Response:
    """Tokens arrived: keep them, end the session this browser had before, and go on."""
    previous = visit.request.cookies.get(SESSION_COOKIE)
    if previous:
        await visit.auth.logout(visit.caller, previous)
        visit.keeper.forget(previous)
    tokens = Tokens.from_answer(answer.body)
    visit.keeper.remember(None, tokens)
    visit.keep_session(tokens)
    visit.keep_device_token(answer)
    visit.delete_cookie(CHALLENGE_COOKIE)
    visit.delete_cookie(CHALLENGE_PASSKEY_COOKIE)
    return redirect(next_path)


async def signed_in_or_asked(visit: Visit, answer: Answer, email: str, next_path: str) -> Response:
    """What a sign-in answer (password or passkey) leads to: the session, a step-up, or a refusal."""
    if answer.ok:
        return await start_session(visit, answer, next_path)
    if answer.code == "challenge_required":
        methods = list(answer.body.get("methods") or [])
        options = pack_passkey_options(answer.body.get("passkey_options"))
        if options is None:
            methods = [method for method in methods if method != "passkey"]
            visit.delete_cookie(CHALLENGE_PASSKEY_COOKIE)
        else:
            visit.set_cookie(CHALLENGE_PASSKEY_COOKIE, options, CHALLENGE_COOKIE_SECONDS)
        packed = pack_challenge(str(answer.body.get("challenge_id", "")), methods, next_path, email)
        visit.set_cookie(CHALLENGE_COOKIE, packed, CHALLENGE_COOKIE_SECONDS)
        return redirect("/signin/check")
    if answer.code == "second_factor_enrolment_required":
        return await staff_enrolment.begin(visit, answer, email)
    return refusal_page(visit, answer, email, next_path)


def refusal_page(visit: Visit, answer: Answer, email: str, next_path: str) -> Response:
    """The page for a sign-in that did not end in tokens (shared by password and step-up)."""
    code = answer.code
    if code == "account_locked":
        return render(
            visit,
            "locked.html",
            423,
            email=email,
            case_id=answer.body.get("case_id"),
            locked_until=answer.body.get("locked_until"),
        )
    if code == "account_frozen":
        return render(
            visit,
            "frozen.html",
            403,
            case_id=answer.body.get("case_id"),
            reset_opens_at=answer.body.get("reset_opens_at"),
        )
    status = answer.status if answer.status in (401, 403, 422, 429) else 400
    return render(
        visit,
        "signin.html",
        status,
        email=email,
        next=next_path,
        error=code,
        retry_after=answer.retry_after or answer.body.get("retry_after"),
    )


@router.get("/signin")
async def sign_in_page(visit: VisitDep, next: str | None = None) -> Response:
    return render(visit, "signin.html", email="", next=safe_next(next), error=None, retry_after=None)


@router.post("/signin")
async def sign_in(visit: VisitDep, form: FormDep) -> Response:
    email, password, next_path = form.text("email"), form.secret("password"), safe_next(form.text("next", 200))
    if not email or not password:
        return render(visit, "signin.html", 422, email=email, next=next_path, error="missing_fields", retry_after=None)
    answer = await visit.auth.login(visit.caller, email, password)
    return await signed_in_or_asked(visit, answer, email, next_path)


def step_up(visit: Visit, challenge: dict[str, Any], status: int, error: str | None, attempts_left: Any) -> Response:
    """The step-up page: the passkey first when auth offers one, then the codes."""
    options = unpack_passkey_options(visit.request.cookies.get(CHALLENGE_PASSKEY_COOKIE))
    methods = [method for method in challenge["methods"] if method != "passkey" or options is not None]
    return render(
        visit,
        "challenge.html",
        status,
        methods=methods,
        passkey_options=options,
        error=error,
        attempts_left=attempts_left,
    )


@router.get("/signin/check")
async def step_up_page(visit: VisitDep) -> Response:
    challenge = unpack_challenge(visit.request.cookies.get(CHALLENGE_COOKIE))
    if challenge is None:
        return redirect("/signin")
    return step_up(visit, challenge, 200, None, None)


@router.post("/signin/check")
async def complete_step_up(visit: VisitDep, form: FormDep) -> Response:
    challenge = unpack_challenge(visit.request.cookies.get(CHALLENGE_COOKIE))
    if challenge is None:
        return render(visit, "signin.html", 401, email="", next="/account", error="challenge_expired", retry_after=None)
    method = form.text("method", 32)
    if method == "passkey" and method in challenge["methods"]:
        credential = read_credential(form.secret("credential", MAX_CREDENTIAL_CHARS))
        if credential is None:
            return step_up(visit, challenge, 422, "passkey_missing", None)
        answer = await visit.auth.complete_challenge_with_passkey(visit.caller, challenge["id"], credential)
    else:
        code = form.text("code", 64).replace(" ", "")
        if method not in challenge["methods"] or not code:
            return step_up(visit, challenge, 422, "missing_code", None)
        answer = await visit.auth.complete_challenge(visit.caller, challenge["id"], method, code)
    if answer.ok:
        return await start_session(visit, answer, challenge["next"])
    if answer.code in ("invalid_code", "passkey_invalid", "passkey_cloned"):
        # Auth counts a wrong assertion as a wrong code; the customer reads it as the passkey's refusal.
        error = "passkey_invalid" if method == "passkey" and answer.code == "invalid_code" else answer.code
        return step_up(visit, challenge, 401, error, answer.body.get("attempts_left"))
    visit.delete_cookie(CHALLENGE_COOKIE)
    visit.delete_cookie(CHALLENGE_PASSKEY_COOKIE)
    return refusal_page(visit, answer, challenge["email"], challenge["next"])


@router.post("/signout")
async def sign_out(visit: VisitDep, _form: FormDep) -> Response:
    refresh_token = visit.request.cookies.get(SESSION_COOKIE)
    if refresh_token:
        await visit.auth.logout(visit.caller, refresh_token)
    end_session(visit, refresh_token)
    return redirect("/?signed_out=1")
