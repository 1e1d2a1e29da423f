"""The gateway app: ``uvicorn --factory gateway.main:create_app``.

Every request passes :class:`~gateway.context.GatewayContextMiddleware` (request id, client
address, security headers, metrics, access log, and a last-resort problem document if anything
below it fails). Then the gateway's own paths (``/healthz``, ``/openapi.json``, ``/docs``, a set
lookup) go through FastAPI's stack to its router, and every other path goes straight to the
:class:`~gateway.proxy.Proxy`: not through FastAPI's and Starlette's layers (error catcher,
telemetry, exception handlers, routing), each of which would wrap every message of every
proxied answer for nothing, since the proxy answers its own failures.

Behind nginx the same app serves only its own paths (nginx routes them to it). Its metrics are
on ``MAMORI_GATEWAY_METRICS_PORT``, a port no edge forwards to.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import Counter, start_http_server
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.clients import TrustedProxies
from gateway.config import GatewaySettings
from gateway.context import GatewayContextMiddleware
from gateway.health import aggregate_health
from gateway.openapi_cache import OpenApiCache
from gateway.proxy import Proxy
from gateway.routing import OWN_PATHS
from gateway.security_headers import SecurityHeaders, docs_csp
from gateway.upstreams import Upstreams
from mamori_common.observability import NO_TELEMETRY, Metrics, configure_logging
from mamori_common.problems import Problem, install_problem_handlers

DOCS_PATH = "/docs"
OPENAPI_PATH = "/openapi.json"


class GatewayApp(FastAPI):
    """A FastAPI app for the gateway's own paths whose every other HTTP request goes to
    :attr:`edge` (the context layer around the proxy) directly."""

    edge: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.edge is not None and scope["type"] == "http" and scope["path"] not in OWN_PATHS:
            scope["app"] = self
            await self.edge(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    upstreams = Upstreams(settings)
    metrics = Metrics("gateway")
    failures = Counter(
        "mamori_gateway_upstream_failures_total",
        "Requests the gateway could not complete with an upstream, by reason",
        ["service", "reason"],
        registry=metrics.registry,
    )
    openapi = OpenApiCache(
        upstreams,
        ttl=settings.openapi_cache_seconds,
        retry=settings.openapi_retry_seconds,
        timeout=settings.openapi_fetch_timeout,
    )
    docs_page = get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="Mamori API", oauth2_redirect_url=None)
    docs_html = bytes(docs_page.body).decode()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        configure_logging("gateway", settings.log_level)
        metrics_server = None
        if settings.gateway_metrics_port is not None:
            metrics_server, _thread = start_http_server(
                settings.gateway_metrics_port, settings.gateway_metrics_host, registry=metrics.registry
            )
        try:
            yield
        finally:
            await upstreams.aclose()
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()

    app = GatewayApp(
        title="Mamori gateway",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        telemetry=NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.upstreams = upstreams
    app.state.openapi = openapi
    install_problem_handlers(app)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        healthy, services = await aggregate_health(upstreams, settings.health_timeout)
        if healthy:
            return JSONResponse({"status": "ok", "services": services})
        down = [name for name, service in services.items() if service["status"] == "down"]
        raise Problem(503, "degraded", f"Unavailable: {', '.join(down)}.", down=down, services=services)

    @app.get(OPENAPI_PATH)
    async def merged_openapi() -> Response:
        return Response(await openapi.body(), media_type="application/json")

    @app.get(DOCS_PATH)
    def docs() -> HTMLResponse:
        return HTMLResponse(docs_html)

    trusted = TrustedProxies(settings.trusted_proxies)
    security = SecurityHeaders(DOCS_PATH, docs_csp(docs_html))
    app.add_middleware(
        GatewayContextMiddleware, trusted=trusted, security=security, metrics=metrics, access_log=settings.access_log
    )
    app.edge = GatewayContextMiddleware(
        Proxy(upstreams, failures), trusted=trusted, security=security, metrics=metrics, access_log=settings.access_log
    )
    return app
