"""The gateway app: ``uvicorn --factory gateway.main:create_app``.

Layers, outermost first: Starlette's error catcher (a last resort that still answers with a
problem document), :class:`~gateway.context.GatewayContextMiddleware` (request id, client
address, security headers, metrics, access log), then a dispatcher that sends the gateway's own
paths (``/healthz``, ``/openapi.json``, ``/docs``) to the FastAPI router and every other path
straight to the :class:`~gateway.proxy.Proxy`, skipping routing altogether.

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
from mamori_common.observability import Metrics, configure_logging
from mamori_common.problems import Problem, install_problem_handlers

DOCS_PATH = "/docs"
OPENAPI_PATH = "/openapi.json"


class ProxyDispatch:
    """Own paths to the router, the rest to the proxy (a set lookup, not a route scan)."""

    def __init__(self, app: ASGIApp, proxy: Proxy) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in OWN_PATHS:
            await self.proxy(scope, receive, send)
        else:
            await self.app(scope, receive, send)


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

    app = FastAPI(
        title="Mamori gateway",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
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

    app.add_middleware(ProxyDispatch, proxy=Proxy(upstreams, failures))
    app.add_middleware(
        GatewayContextMiddleware,
        trusted=TrustedProxies(settings.trusted_proxies),
        security=SecurityHeaders(DOCS_PATH, docs_csp(docs_html)),
        metrics=metrics,
        access_log=settings.access_log,
    )
    return app
