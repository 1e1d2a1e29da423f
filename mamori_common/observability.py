"""Request ids, JSON logs and Prometheus metrics.

The gateway mints an ``X-Request-ID`` for every request it receives (or keeps a well-formed one a
trusted client sent); every service reads it, logs it on each line and passes it on to every
outgoing call, so one id follows a request across all hops.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from contextvars import ContextVar
from typing import Any

from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pythonjsonlogger.json import JsonFormatter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mamori_common.card_numbers.detector import mask_card_numbers
from mamori_common.contract import REVOCATIONS_PATH

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
#: Metrics are Prometheus (:class:`Metrics`), logs these JSON lines: FastAPI's own OpenTelemetry
#: bridge stays off (left on, it looks up three global providers on every request).
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
#: Probes and scrapes: counted, not logged.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
#: Asked by every replica several times a second: logged only when they fail (metrics count them all).
_POLLED_PATHS = frozenset({REVOCATIONS_PATH})


def current_request_id() -> str:
    return request_id_var.get()


def new_request_id() -> str:
    """32 random hex digits, the shape nginx's ``$request_id`` has (a ``uuid4`` object costs
    four times as much to make, for the same randomness less six bits)."""
    return os.urandom(16).hex()


def accepted_request_id(value: str | None) -> str | None:
    """A caller's id is kept only if it looks like one, so logs cannot be forged or flooded."""
    if value and _REQUEST_ID_SHAPE.match(value):
        return value
    return None


def loggable_path(path: str) -> str:
    """The path as an access log line may keep it: a full card number in it has its digits masked.

    A customer pastes a card number where an id goes, an attacker sends one on purpose, and access
    logs outlive everything else (the detector runs only on the rare path with enough digits).
    """
    return mask_card_numbers(path)


#: The attributes every log record has; anything else on a record is an ``extra``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class CardNumberMasking(logging.Filter):
    """The last guard before a log line is written: any full card number in its message, its
    extras or its traceback has its digits masked.

    The paths are masked where they are logged; this catches what no call site thought of (an
    exception's text quoting a value, a library's message). Strings with fewer digits than a card
    number has pass untouched, so a line costs a digit count per field.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_card_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, mask_card_numbers(value))
        if record.exc_info:
            record.exc_text = mask_card_numbers(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class _RequestIdFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.service = self.service
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    """One JSON object per line on stderr, each with the service and the request id."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_RequestIdFilter(service))
    handler.addFilter(CardNumberMasking())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


class Metrics:
    """A registry per app, so in-process tests can build many apps without collisions."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mamori_http_requests_total",
            "HTTP requests handled",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mamori_http_request_seconds",
            "Time to answer an HTTP request",
            ["service", "method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.service = service
        #: The labelled children by (method, route, status): ``labels()`` takes a lock and
        #: builds its key on every call, and a process sees the same few combinations.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(self.service, method, route, str(status)),
                self.latency.labels(self.service, method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def response(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def route_label(scope: Scope) -> str:
    """The route template (``/cases/{case_id}``), never the raw path: bounded label cardinality."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    """Pure ASGI middleware: request id in and out, metrics, one access-log line per request."""

    def __init__(self, app: ASGIApp, metrics: Metrics, trust_incoming_id: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.trust_incoming_id = trust_incoming_id
        self.log = logging.getLogger("mamori.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        if self.trust_incoming_id:
            for name, value in scope["headers"]:
                if name == b"x-request-id":
                    incoming = accepted_request_id(value.decode("latin-1"))
                    break
        request_id = incoming or new_request_id()
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe(scope["method"], route_label(scope), status, elapsed)
            quiet = scope["path"] in _QUIET_PATHS or (scope["path"] in _POLLED_PATHS and status == 200)
            if not quiet and self.log.isEnabledFor(logging.INFO):
                self.log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": loggable_path(scope["path"]),
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)


def outgoing_headers(extra: dict[str, Any] | None = None) -> dict[str, str]:
    """Headers for a call to another service: the current request id goes along."""
    headers = {"x-request-id": current_request_id()} if current_request_id() != "-" else {}
    if extra:
        headers.update({key: str(value) for key, value in extra.items()})
    return headers


def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return metrics.response()
