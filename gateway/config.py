"""Settings of the gateway (``MAMORI_`` prefix, read with pydantic-settings).

Each service's replicas are listed in ``MAMORI_<SERVICE>_UPSTREAMS`` (comma-separated URLs).
When a list is empty the gateway falls back to the single ``MAMORI_<SERVICE>_URL`` every process
already knows, so the embedded one-replica deployment needs no gateway-specific setting.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from gateway.routing import CONNECT_TIMEOUT
from mamori_common.settings import SERVICE_NAMES, CommonSettings

UpstreamList = Annotated[list[str], NoDecode]


def _split_csv(value: object) -> object:
    """``a,b`` from the environment becomes ``["a", "b"]``, as for ``trusted_proxies``."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class GatewaySettings(CommonSettings):
    """Where the gateway listens, where each service runs, and how long it waits for them."""

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    #: Prometheus metrics of the gateway, on a port of their own that no edge forwards to
    #: (unset: no metrics endpoint). Bound to ``gateway_metrics_host``.
    gateway_metrics_port: int | None = None
    gateway_metrics_host: str = "127.0.0.1"

    auth_upstreams: UpstreamList = Field(default_factory=list)
    verification_upstreams: UpstreamList = Field(default_factory=list)
    orders_upstreams: UpstreamList = Field(default_factory=list)
    portal_upstreams: UpstreamList = Field(default_factory=list)

    #: Seconds to open a TCP connection to a replica; a replica that does not accept in this
    #: time is treated as down.
    upstream_connect_timeout: float = CONNECT_TIMEOUT
    #: A proxied request waits its route's ``read_timeout`` (gateway/routing.py) for each read
    #: from a replica; when set, this many seconds instead, on every route (tests, a slow laptop).
    upstream_read_timeout: float | None = None
    #: Seconds a request may wait for a free pooled connection before it gets a 503.
    upstream_pool_timeout: float = 5.0
    #: Connections kept open to one service, across its replicas (a bulkhead: one slow service
    #: cannot take the connections the others need).
    upstream_max_connections: int = 512
    #: Below uvicorn's 5 s keep-alive, so the gateway drops an idle connection before the
    #: replica does, rather than racing it.
    upstream_keepalive_expiry: float = 4.0
    #: How long a replica that refused a connection is passed over (passive health check).
    replica_cooldown_seconds: float = 5.0

    #: Timeout of each replica's ``/readyz`` call behind the aggregated ``/healthz``.
    health_timeout: float = 1.5
    #: How long the merged ``/openapi.json`` is served from cache.
    openapi_cache_seconds: float = 30.0
    #: How often a service that was missing from the merged document is asked again.
    openapi_retry_seconds: float = 1.0
    openapi_fetch_timeout: float = 3.0

    #: One JSON log line per request. The gateway is the edge, so it is on by default.
    access_log: bool = True

    _split_upstreams = field_validator(
        "auth_upstreams", "verification_upstreams", "orders_upstreams", "portal_upstreams", mode="before"
    )(_split_csv)

    @field_validator("auth_upstreams", "verification_upstreams", "orders_upstreams", "portal_upstreams")
    @classmethod
    def _upstreams_are_http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            _check_upstream_url(url)
        return [url.rstrip("/") for url in value]

    def upstreams(self, service: str) -> list[str]:
        """The replicas of ``service``: its upstream list, or its one ``<service>_url``."""
        if service not in SERVICE_NAMES:
            raise KeyError(service)
        configured: list[str] = getattr(self, f"{service}_upstreams")
        if configured:
            return list(configured)
        url = self.service_url(service)
        _check_upstream_url(url)
        return [url]

    def edge_upstreams(self, gateway_url: str) -> dict[str, list[str]]:
        """``host:port`` of every replica nginx forwards to: each service's, and the gateway app's."""
        from gateway.nginx import GATEWAY_GROUP, host_port

        groups = {service: [host_port(url) for url in self.upstreams(service)] for service in SERVICE_NAMES}
        groups[GATEWAY_GROUP] = [host_port(gateway_url)]
        return groups


def _check_upstream_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"an upstream must be an http(s) URL with a host, not {url!r}")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError(f"an upstream is a base URL without a path: {url!r} (paths are forwarded unchanged)")
