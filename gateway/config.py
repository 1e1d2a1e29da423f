"""Settings of the gateway (``MAMORI_`` prefix, read with pydantic-settings).

Each service's replicas (``MAMORI_<SERVICE>_UPSTREAMS``, falling back to ``MAMORI_<SERVICE>_URL``)
are every process's settings (``mamori_common/settings.py``): the services call each other over
the same lists.
"""

from __future__ import annotations

from gateway.routing import CONNECT_TIMEOUT
from mamori_common.settings import SERVICE_NAMES, CommonSettings


class GatewaySettings(CommonSettings):
    """Where the gateway listens, where each service runs, and how long it waits for them."""

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    #: Prometheus metrics of the gateway, on a port of their own that no edge forwards to
    #: (unset: no metrics endpoint). Bound to ``gateway_metrics_host``.
    gateway_metrics_port: int | None = None
    gateway_metrics_host: str = "127.0.0.1"

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
    #: Timeout of each replica's ``/readyz`` call behind the aggregated ``/healthz``.
    health_timeout: float = 1.5
    #: How long the merged ``/openapi.json`` is served from cache.
    openapi_cache_seconds: float = 30.0
    #: How often a service that was missing from the merged document is asked again.
    openapi_retry_seconds: float = 1.0
    openapi_fetch_timeout: float = 3.0

    #: One JSON log line per request. The gateway is the edge, so it is on by default.
    access_log: bool = True

    def edge_upstreams(self, gateway_url: str) -> dict[str, list[str]]:
        """``host:port`` of every replica nginx forwards to: each service's, and the gateway app's."""
        from gateway.nginx import GATEWAY_GROUP, host_port

        groups = {service: [host_port(url) for url in self.upstreams(service)] for service in SERVICE_NAMES}
        groups[GATEWAY_GROUP] = [host_port(gateway_url)]
        return groups
