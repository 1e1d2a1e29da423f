"""The customer portal: server-rendered pages served through the gateway at ``/``.

The portal owns no data: every page is drawn from the services' public APIs, called with the
customer's access token (see :mod:`portal.session` for where tokens live). Pages work without
JavaScript; ``/static/portal.js`` only adds small comforts. Every answer carries a strict
Content-Security-Policy (no inline script or style), and HTML is never cached.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from mamori_common.app import create_base_app
from mamori_common.observability import configure_logging
from mamori_common.problems import problem_for_status, problem_response
from portal.client import AuthApi, OrdersApi, ServiceClient, ServiceUnavailable, StaffApi, VerificationApi
from portal.config import PortalSettings
from portal.pages import (
    account,
    cases,
    messages,
    orders,
    passkeys,
    recovery,
    security,
    signin,
    staff,
    staff_enrolment,
)
from portal.pages.cases import UPLOAD_SUFFIX
from portal.session import TokenKeeper
from portal.web import (
    CONTENT_SECURITY_POLICY,
    CsrfRejected,
    ExchangeAgain,
    Pages,
    SignInRequired,
    UploadTooLarge,
    UploadUnreadable,
    redirect,
    render,
    start_visit,
    visit_of,
)

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Paths that are not pages: no visit, no cookies.
_PLAIN_PATHS = ("/static/", "/healthz", "/readyz", "/metrics")


def wants_page(request: Request) -> bool:
    """A browser asking for a page gets an HTML error page; an API client (and any ``/api/...``
    path the services did not claim) gets the RFC 9457 problem every Mamori process answers with."""
    return (
        hasattr(request.state, "visit")
        and not request.url.path.startswith("/api/")
        and "text/html" in request.headers.get("accept", "")
    )


def create_app(
    settings: PortalSettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    **_options: Any,
) -> FastAPI:
    """``transports`` routes the portal's calls to in-process apps (tests); by default, HTTP."""
    settings = settings or PortalSettings()
    services = ServiceClient(settings, transports)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        configure_logging("portal", settings.log_level)
        try:
            yield
        finally:
            await services.close()

    app = create_base_app("portal", "Mamori portal", "Customer pages.", settings, lifespan)
    app.state.pages = Pages()
    #: The portal's own CSRF key (``portal/csrf.py``), read once; no service credential.
    app.state.csrf_key = settings.resolved_csrf_key()
    app.state.auth_api = AuthApi(services)
    app.state.verification_api = VerificationApi(services)
    app.state.orders_api = OrdersApi(services)
    app.state.staff_api = StaffApi(services)
    app.state.services = services
    app.state.token_keeper = TokenKeeper()

    @app.middleware("http")
    async def visit_middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path.startswith(_PLAIN_PATHS):
            return await call_next(request)
        length = request.headers.get("content-length")
        is_upload = request.url.path.endswith(UPLOAD_SUFFIX)
        limit = settings.max_upload_bytes if is_upload else settings.max_form_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            request.state.visit = start_visit(request, settings)
            reason = "file_too_large" if is_upload else "too_large"
            response: Response = render(visit_of(request), "error.html", 413, reason=reason)
        else:
            request.state.visit = start_visit(request, settings)
            response = await call_next(request)
        visit = visit_of(request)
        for change in visit.cookie_changes:
            change(response)
        response.headers["content-security-policy"] = CONTENT_SECURITY_POLICY
        response.headers["cache-control"] = "no-store"
        response.headers["content-language"] = visit.reader.language
        response.headers["vary"] = "Accept-Language, Cookie"
        return response

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        return redirect(f"/signin?next={quote(exc.next_path, safe='/')}")

    @app.exception_handler(ExchangeAgain)
    async def exchange_again(_request: Request, exc: ExchangeAgain) -> Response:
        return redirect(quote(exc.path, safe="/"))

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, _exc: CsrfRejected) -> Response:
        return render(visit_of(request), "error.html", 403, reason="csrf")

    @app.exception_handler(UploadTooLarge)
    async def upload_too_large(request: Request, _exc: UploadTooLarge) -> Response:
        return render(visit_of(request), "error.html", 413, reason="file_too_large")

    @app.exception_handler(UploadUnreadable)
    async def upload_unreadable(request: Request, _exc: UploadUnreadable) -> Response:
        return render(visit_of(request), "error.html", 400, reason="bad_request")

    @app.exception_handler(ServiceUnavailable)
    async def service_unavailable(request: Request, _exc: ServiceUnavailable) -> Response:
        return render(visit_of(request), "error.html", 503, reason="unavailable")

    @app.exception_handler(RequestValidationError)
    async def unreadable(request: Request, _exc: RequestValidationError) -> Response:
        if not wants_page(request):
            return problem_response(problem_for_status(400, "The request could not be read."), request.url.path)
        return render(visit_of(request), "error.html", 400, reason="bad_request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not wants_page(request):
            return problem_response(problem_for_status(exc.status_code), request.url.path)
        reason = {404: "not_found", 405: "not_found"}.get(exc.status_code, "bad_request")
        return render(visit_of(request), "error.html", exc.status_code, reason=reason)

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        return JSONResponse({"status": "ready", "service": "portal"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (account, signin, staff_enrolment, recovery, messages, security, passkeys, cases, orders, staff):
        app.include_router(module.router)
    return app
