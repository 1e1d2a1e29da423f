"""The outermost layer of the gateway: one pass per request, for proxied and own routes alike.

It decides what to believe about the peer (:mod:`gateway.clients`), sets the request id for the
logs and the answer, adds the security headers, and records metrics and one access-log line
(its fields are gathered only when the log level lets the line out). It is also the last resort:
whatever fails below it before an answer started gets a 500 problem document, with the request
id and the security headers like any other answer.
A pure ASGI middleware, not ``BaseHTTPMiddleware``: it only wraps ``send``, so streamed bodies
pass through untouched and the per-request cost stays at a few microseconds.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.clients import SCOPE_KEY, TrustedProxies
from gateway.security_headers import SecurityHeaders
from mamori_common.observability import Metrics, loggable_path, request_id_var, route_label
from mamori_common.problems import problem_for_status, problem_response

logger = logging.getLogger("mamori.gateway")
INTERNAL_ERROR = problem_for_status(500, "An unexpected error occurred in the gateway.")
#: Set by the proxy: the route label for metrics (``/api/orders/{path}``), bounded cardinality.
ROUTE_KEY = "mamori.route"
_QUIET_PATHS = frozenset({"/healthz", "/metrics"})


class GatewayContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        trusted: TrustedProxies,
        security: SecurityHeaders,
        metrics: Metrics,
        access_log: bool = True,
    ) -> None:
        self.app = app
        self.trusted = trusted
        self.security = security
        self.metrics = metrics
        self.access_log = access_log
        self.log = logging.getLogger("mamori.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = self.trusted.context(scope, scope["headers"])
        scope[SCOPE_KEY] = context
        scope.setdefault("state", {})["request_id"] = context.request_id
        token = request_id_var.set(context.request_id)
        request_id = context.request_id.encode("latin-1")
        path: str = scope["path"]
        https = context.https
        apply_security = self.security.apply
        started = time.perf_counter()
        status = 0  # no answer started yet

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (name, value) for name, value in message.get("headers", ()) if name.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id))
                message["headers"] = apply_security(headers, path, https)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if status:
                raise  # part of the answer is out: only the server cutting the connection is honest now
            logger.exception("unhandled error", extra={"path": loggable_path(path)})
            await problem_response(INTERNAL_ERROR, path)(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get(ROUTE_KEY) or route_label(scope)
            self.metrics.observe(scope["method"], route, status or 500, elapsed)
            if self.access_log and path not in _QUIET_PATHS and self.log.isEnabledFor(logging.INFO):
                self.log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": loggable_path(path),
                        "status": status or 500,
                        "duration_ms": round(elapsed * 1000, 2),
                        "client_ip": context.client_ip,
                        "upstream": scope.get("mamori.upstream"),
                    },
                )
            request_id_var.reset(token)
