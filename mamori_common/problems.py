"""RFC 9457 problem details for every error a Mamori process returns.

Each problem carries a stable ``code`` that clients branch on; ``title`` and ``detail`` are for
people. Validation errors, unknown paths, wrong methods and unexpected exceptions all come out in
this one shape, so a client never has to parse an HTML error page or a bare string.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger("mamori.problems")

_STATUS_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_error", "Invalid request"),
    429: ("rate_limited", "Too many requests"),
    500: ("internal_error", "Internal error"),
    502: ("bad_gateway", "Upstream service unavailable"),
    503: ("unavailable", "Service unavailable"),
    504: ("gateway_timeout", "Upstream service timed out"),
}


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.title = title or _STATUS_CODES.get(status, (code, code.replace("_", " ").capitalize()))[1]
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        document: dict[str, Any] = {
            "type": f"https://mamori.example/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            document["detail"] = self.detail
        if instance:
            document["instance"] = instance
        document.update(self.extra)
        return document


#: What ``JSONResponse.render`` writes (compact, UTF-8), made once: ``json.dumps`` with these
#: options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_CONTENT_TYPE = (b"content-type", PROBLEM_MEDIA_TYPE.encode("latin-1"))


class ProblemResponse(JSONResponse):
    """A problem document as a response: the bytes and headers ``JSONResponse`` would make,
    without its general header merging (a problem's headers never carry a length or a type).

    Throttled and refused requests are answered with one of these before anything else runs, so
    its cost is most of what such a rejection costs."""

    media_type = PROBLEM_MEDIA_TYPE

    def __init__(self, problem: Problem, instance: str | None = None) -> None:
        self.status_code = problem.status
        self.background = None
        self.body = _ENCODER.encode(problem.body(instance)).encode("utf-8")
        raw_headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in problem.headers.items()
        ]
        raw_headers.append((b"content-length", str(len(self.body)).encode("latin-1")))
        raw_headers.append(_CONTENT_TYPE)
        self.raw_headers = raw_headers


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return ProblemResponse(problem, instance)


def problem_for_status(status: int, detail: str | None = None, **extra: Any) -> Problem:
    code, _ = _STATUS_CODES.get(status, ("error", "Error"))
    return Problem(status, code, detail, **extra)


def _validation_problem(exc: RequestValidationError) -> Problem:
    errors = []
    malformed = False
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            malformed = True
        errors.append(
            {
                "location": [str(part) for part in error.get("loc", ())],
                "message": error.get("msg", ""),
                "type": error.get("type", ""),
            }
        )
    if malformed:
        return Problem(400, "malformed_body", "The request body is not valid JSON.", errors=errors)
    return Problem(422, "validation_error", "Some fields are missing or invalid.", errors=errors)


async def _handle_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request.url.path)


def allowed_methods(request: Request) -> str:
    """Every method some route of this app takes on the request's path (RFC 9110 ``Allow``).

    Starlette names only the methods of the first route whose path matched, while a path often
    has one route per method (``PATCH`` and ``DELETE`` of one passkey); HEAD goes with GET
    (``front_door``)."""
    from mamori_common.route_shapes import shapes_for_path

    methods: set[str] = set()
    # The routes of the most literal template the path fits (``/passkeys/sign-in`` rather than
    # ``/passkeys/{passkey_id}``, whichever was declared first): the methods of the resource the
    # path names, not of every template the same text happens to fit.
    shapes = sorted(
        shapes_for_path(request.app, request.url.path), key=lambda shape: shape.path_regex.pattern.count("(?P<")
    )
    for shape in shapes:
        if shape.path_regex.pattern == shapes[0].path_regex.pattern:
            methods.update(shape.methods)
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


async def _handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    problem = problem_for_status(exc.status_code, detail)
    problem.headers = dict(exc.headers or {})
    if exc.status_code == 405:
        problem.headers["Allow"] = allowed_methods(request) or problem.headers.get("Allow", "")
    return problem_response(problem, request.url.path)


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(_validation_problem(exc), request.url.path)


async def _handle_outage(request: Request, exc: Exception) -> JSONResponse:
    """A lost database or Redis (``mamori_common/outages.py``): 503 with Retry-After."""
    from mamori_common.observability import loggable_path  # the detector's package builds on Problem
    from mamori_common.outages import outage_problem  # outages builds on Problem, defined here

    problem = outage_problem(exc)
    if problem is None:
        return await _handle_unexpected(request, exc)
    logger.warning(
        "dependency unavailable", extra={"path": loggable_path(request.url.path), "error": type(exc).__name__}
    )
    return problem_response(problem, request.url.path)


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Anything else is a bug (500), except an outage that surfaced outside a route (a
    middleware's database or Redis call), which is still the outage's 503."""
    from mamori_common.observability import loggable_path
    from mamori_common.outages import outage_problem

    if outage_problem(exc) is not None:
        return await _handle_outage(request, exc)
    logger.exception("unhandled error", extra={"path": loggable_path(request.url.path)})
    return problem_response(problem_for_status(500, "An unexpected error occurred."), request.url.path)


def install_problem_handlers(app: FastAPI) -> None:
    """Every process's error answers, registered once by the app factory."""
    from mamori_common.outages import OUTAGE_ERRORS

    app.add_exception_handler(Problem, _handle_problem)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    for error_class in OUTAGE_ERRORS:
        app.add_exception_handler(error_class, _handle_outage)
    app.add_exception_handler(Exception, _handle_unexpected)


class KeptRefusal(Problem):
    """A refusal whose trace must be kept (a wrong code counted, a refused attempt audited).

    Flows raise it after writing the trace; the request's session (``SessionDep``) commits the
    trace before the problem is answered, while anything else that failed is never committed.
    """


class ProblemDocument(BaseModel):
    """The problem shape, for the OpenAPI documents."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": ProblemDocument,
        "description": "Problem details (RFC 9457) with a stable `code`.",
        "content": {PROBLEM_MEDIA_TYPE: {}},
    }
}
