"""What every page shares: the visit (language, zone, device, CSRF seed, cookies to set), rendering,
forms with their CSRF check, the signed-in customer, and the headers every answer carries.

Routes stay thin: they read a form, call a service through :mod:`portal.client`, and render.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mamori_common.contract import case_number
from mamori_common.multipart import MultipartLimits, MultipartMalformed, MultipartTooLarge, read_multipart
from mamori_common.network import resolve_client_ip
from mamori_common.pagination import MAX_CURSOR_LENGTH
from portal import csrf
from portal.client import Answer, AuthApi, Caller, OrdersApi, StaffApi, VerificationApi
from portal.config import PortalSettings
from portal.localization import LANGUAGES, OFFERED_ZONES, Reader, choose_language, choose_zone, translations
from portal.session import (
    DEVICE_COOKIE,
    DEVICE_TOKEN_COOKIE,
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    ZONE_COOKIE,
    TokenKeeper,
    Tokens,
)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

#: No inline script or style, nothing from another origin; forms post only to us.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
DEVICE_COOKIE_SECONDS = 2 * 365 * 24 * 3600
#: Longest device token kept (auth's are about 90 characters).
MAX_DEVICE_TOKEN_LENGTH = 128
PREFERENCE_COOKIE_SECONDS = 365 * 24 * 3600
#: Auth's answers that mean "this browser is no longer signed in".
_SIGNED_OUT_CODES = frozenset({"invalid_token", "session_revoked", "unauthenticated", "account_frozen"})


class SignInRequired(Exception):
    """The page needs a signed-in customer; the visitor is sent to sign in and brought back."""

    def __init__(self, next_path: str = "/account") -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRejected(Exception):
    """A form without the right CSRF token: refused, nothing changed."""


class UploadTooLarge(Exception):
    """A file over the upload limit: the page says the limit, nothing was sent on."""


class UploadUnreadable(Exception):
    """A multipart body that is broken (or has more parts than a form of ours)."""


@dataclass
class Visit:
    """One request as the portal sees it, and the cookies its answer must set."""

    request: Request
    settings: PortalSettings
    reader: Reader
    caller: Caller
    csrf_seed: str
    secure_cookies: bool
    cookie_changes: list[Callable[[Response], None]] = field(default_factory=list)

    def set_cookie(
        self, name: str, value: str, max_age: int | None, path: str = "/", samesite: Literal["lax", "strict"] = "lax"
    ) -> None:
        secure = self.secure_cookies
        self.cookie_changes.append(
            lambda response: response.set_cookie(
                name, value, max_age=max_age, path=path, httponly=True, samesite=samesite, secure=secure
            )
        )

    def keep_device_token(self, answer: Answer) -> None:
        """Keep the device token a sign-in answered with (auth rotates it on every sign-in)."""
        token = answer.body.get("device_token")
        if isinstance(token, str) and token and len(token) <= MAX_DEVICE_TOKEN_LENGTH:
            self.set_cookie(DEVICE_TOKEN_COOKIE, token, DEVICE_COOKIE_SECONDS, samesite="strict")

    def delete_cookie(self, name: str, path: str = "/") -> None:
        secure = self.secure_cookies
        self.cookie_changes.append(
            lambda response: response.delete_cookie(name, path=path, httponly=True, samesite="lax", secure=secure)
        )

    def csrf_token(self) -> str:
        return csrf.form_token(self.request.app.state.csrf_key, self.csrf_seed)

    def keep_session(self, tokens: Tokens) -> None:
        """Put the (rotated) refresh token in the session cookie."""
        if tokens.refresh_token != self.request.cookies.get(SESSION_COOKIE):
            self.set_cookie(SESSION_COOKIE, tokens.refresh_token, self.settings.session_cookie_days * 24 * 3600)

    @property
    def auth(self) -> AuthApi:
        return self.request.app.state.auth_api

    @property
    def verification(self) -> VerificationApi:
        return self.request.app.state.verification_api

    @property
    def staff(self) -> StaffApi:
        return self.request.app.state.staff_api

    @property
    def orders(self) -> OrdersApi:
        return self.request.app.state.orders_api

    @property
    def keeper(self) -> TokenKeeper:
        return self.request.app.state.token_keeper


def start_visit(request: Request, settings: PortalSettings) -> Visit:
    """Read who is visiting from the request; give a new browser its device id and CSRF seed."""
    cookies = request.cookies
    language = choose_language(
        request.query_params.get("lang") or cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
    )
    zone = choose_zone(cookies.get(ZONE_COOKIE), settings.default_zone)
    peer = request.client.host if request.client else None
    ip = resolve_client_ip(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxies)
    device = cookies.get(DEVICE_COOKIE)
    if device is not None and not (8 <= len(device) <= 64 and device.replace("-", "").replace("_", "").isalnum()):
        device = None
    device_token = cookies.get(DEVICE_TOKEN_COOKIE)
    if device_token is not None and not (
        len(device_token) <= MAX_DEVICE_TOKEN_LENGTH
        and device_token.replace(".", "").replace("-", "").replace("_", "").isalnum()
    ):
        device_token = None
    seed = cookies.get(csrf.CSRF_COOKIE) or ""
    visit = Visit(
        request=request,
        settings=settings,
        reader=Reader(language, zone),
        caller=Caller(
            ip=ip,
            device_id=device,
            user_agent=request.headers.get("user-agent"),
            request_id=request.headers.get("x-request-id"),
            language=language,
            device_token=device_token,
        ),
        csrf_seed=seed if 16 <= len(seed) <= 128 else csrf.new_seed(),
        secure_cookies=settings.cookies_secure(request.headers.get("x-forwarded-proto")),
    )
    if device is None:
        device = secrets.token_urlsafe(18)
        visit.caller = dataclasses.replace(visit.caller, device_id=device)
        visit.set_cookie(DEVICE_COOKIE, device, DEVICE_COOKIE_SECONDS)
    if visit.csrf_seed != seed:
        visit.set_cookie(csrf.CSRF_COOKIE, visit.csrf_seed, None)
    return visit


def visit_of(request: Request) -> Visit:
    return request.state.visit


VisitDep = Annotated[Visit, Depends(visit_of)]


# --- rendering ----------------------------------------------------------------------------------


class Pages:
    """One Jinja2 environment per language, each with its catalogue installed (``{% trans %}``)."""

    def __init__(self, directory: Path = TEMPLATE_DIR) -> None:
        self._environments = {}
        for language in LANGUAGES:
            environment = jinja2.Environment(
                loader=jinja2.FileSystemLoader(directory),
                autoescape=True,
                extensions=["jinja2.ext.i18n"],
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
            )
            environment.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]  # added by the i18n extension at run time
            environment.globals.update(case_number=case_number, offered_zones=OFFERED_ZONES)
            self._environments[language] = environment

    def render(self, visit: Visit, name: str, context: dict[str, Any]) -> str:
        template = self._environments[visit.reader.language].get_template(name)
        return template.render(
            t=visit.reader,
            csrf_token=visit.csrf_token(),
            path=visit.request.url.path,
            signed_in=SESSION_COOKIE in visit.request.cookies,
            **context,
        )


def _local_path(request: Request) -> str:
    return request.url.path


def render(visit: Visit, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    pages: Pages = visit.request.app.state.pages
    return HTMLResponse(pages.render(visit, name, context), status_code=status)


def redirect(to: str) -> RedirectResponse:
    """After a POST, always 303: the browser GETs the next page (no re-post on reload)."""
    return RedirectResponse(to, status_code=303)


def safe_next(candidate: str | None, default: str = "/account") -> str:
    """Only a path on this site: never ``//host`` or a scheme (an open redirect)."""
    if not candidate or not candidate.startswith("/") or candidate.startswith("//") or "\\" in candidate:
        return default
    if any(ord(char) < 0x20 for char in candidate) or len(candidate) > 200:
        return default
    return candidate


# --- forms --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    """A posted form whose CSRF token was right; fields come out trimmed and bounded."""

    fields: dict[str, str]
    items: tuple[tuple[str, str], ...] = ()

    def text(self, name: str, max_length: int = 320) -> str:
        return self.fields.get(name, "").strip()[:max_length]

    def secret(self, name: str, max_length: int = 1024) -> str:
        """A password or code exactly as typed (spaces may be part of a password)."""
        return self.fields.get(name, "")[:max_length]

    def flag(self, name: str) -> bool:
        return self.fields.get(name) in ("on", "true", "1")

    def choices(self, name: str) -> list[str]:
        return [value for key, value in self.items if key == name]


@dataclass(frozen=True)
class PostedFile:
    """A file sent with a form, read whole (the upload limit bounds it)."""

    filename: str
    content_type: str
    content: bytes


def _check_csrf(request: Request, fields: dict[str, str]) -> None:
    if not csrf.is_valid(
        request.app.state.csrf_key, request.cookies.get(csrf.CSRF_COOKIE), fields.get(csrf.CSRF_FIELD)
    ):
        raise CsrfRejected()


async def read_form(request: Request) -> Form:
    """The posted form, or :class:`CsrfRejected` when its token does not match the browser's seed."""
    posted = await request.form(max_files=0, max_fields=50)
    items = tuple((key, value) for key, value in posted.multi_items() if isinstance(value, str))
    fields = dict(items)
    _check_csrf(request, fields)
    return Form(fields, items)


async def read_upload(request: Request) -> tuple[Form, PostedFile | None]:
    """A multipart form with (at most) one file, read into memory by the kit's bounded parser (never
    a temporary file: the statement may show a full card number). The CSRF token is checked when
    the file part begins, before a byte of the file is kept, and again at the end for a form
    without a file; past the file limit reading stops (:class:`UploadTooLarge`)."""
    settings: PortalSettings = request.app.state.settings
    try:
        body = await read_multipart(
            request,
            MultipartLimits(file_bytes=settings.max_file_bytes, field_bytes=4096, max_fields=20, max_files=1),
            before_file=lambda fields: _check_csrf(request, dict(fields)),
        )
    except MultipartTooLarge as exc:
        raise UploadTooLarge() from exc
    except MultipartMalformed as exc:
        raise UploadUnreadable() from exc
    items = tuple(body.fields)
    fields = dict(items)
    _check_csrf(request, fields)
    files = [
        PostedFile(part.filename or "document", part.content_type or "application/octet-stream", part.data)
        for part in body.files
        if part.filename
    ]
    return Form(fields, items), files[0] if files else None


FormDep = Annotated[Form, Depends(read_form)]
UploadDep = Annotated[tuple[Form, PostedFile | None], Depends(read_upload)]


# --- the signed-in customer ---------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    token: str
    me: dict[str, Any]

    @property
    def is_staff(self) -> bool:
        return self.me.get("role", "customer") != "customer"


def signed_out_by(answer: Answer) -> bool:
    return answer.status == 401 and answer.code in _SIGNED_OUT_CODES


async def session_tokens(request: Request) -> Tokens:
    """Fresh tokens for the browser's session (remembered, or from one exchange), or sign in."""
    visit = visit_of(request)
    presented = request.cookies.get(SESSION_COOKIE)
    if not presented or len(presented) > 256:
        raise SignInRequired(_local_path(request))

    async def exchange(refresh_token: str) -> Tokens | None:
        answer = await visit.auth.refresh_token(visit.caller, refresh_token)
        return Tokens.from_answer(answer.body) if answer.ok else None

    tokens = await visit.keeper.tokens_for(presented, exchange)
    if tokens is None:
        visit.delete_cookie(SESSION_COOKIE)
        raise SignInRequired(_local_path(request))
    visit.keep_session(tokens)
    return tokens


async def current_customer(request: Request) -> Customer:
    """The signed-in customer with their account (``getMe``), for pages that show it."""
    visit = visit_of(request)
    presented = request.cookies.get(SESSION_COOKIE)
    for attempt in range(2):
        tokens = await session_tokens(request)
        me = await visit.auth.get_me(visit.caller, tokens.access_token)
        if me.ok:
            return Customer(tokens.access_token, me.body)
        if me.code == "invalid_token" and attempt == 0 and presented:
            visit.keeper.expire(presented)  # a remembered token auth no longer takes: exchange once more
            continue
        break
    end_session(visit, presented)
    raise SignInRequired(_local_path(request))


async def signed_in_token(request: Request) -> Customer:
    """The signed-in customer without their account: one call to auth fewer, for pages that list
    things (the listing call itself tells whether the session still holds)."""
    return Customer((await session_tokens(request)).access_token, {})


def end_session(visit: Visit, refresh_token: str | None) -> None:
    """Forget the browser's session here: its cached tokens and its cookie."""
    if refresh_token:
        visit.keeper.forget(refresh_token)
    visit.delete_cookie(SESSION_COOKIE)


class ExchangeAgain(Exception):
    """A remembered access token was refused: load the page again with a freshly exchanged one."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def still_signed_in(visit: Visit, answer: Answer) -> Answer:
    """Pass an answer on, unless it says the session ended meanwhile (then: sign in again)."""
    presented = visit.request.cookies.get(SESSION_COOKIE)
    if answer.code == "invalid_token" and presented and visit.request.method == "GET":
        visit.keeper.expire(presented)
        raise ExchangeAgain(str(visit.request.url.path))
    if signed_out_by(answer):
        end_session(visit, visit.request.cookies.get(SESSION_COOKIE))
        raise SignInRequired(_local_path(visit.request))
    return answer


CustomerDep = Annotated[Customer, Depends(current_customer)]
TokenDep = Annotated[Customer, Depends(signed_in_token)]


async def optional_customer(request: Request) -> Customer | None:
    """The customer when signed in; None for a visitor (pages that work both ways)."""
    if SESSION_COOKIE not in request.cookies:
        return None
    try:
        return await current_customer(request)
    except SignInRequired:
        return None


MaybeCustomerDep = Annotated[Customer | None, Depends(optional_customer)]

#: A paged list page's ``?cursor=``: the service's ``next``, passed on untouched (the service checks it).
CursorDep = Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)]


def cursor_refused(answer: Answer) -> bool:
    """The service did not take the cursor (edited, stale or another list's): show the first page."""
    return answer.status in (400, 422)
