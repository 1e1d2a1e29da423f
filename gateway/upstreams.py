"""The pooled HTTP clients the gateway talks to each service with.

One ``httpx.AsyncClient`` per service, so each has its own connection pool (a slow service cannot
exhaust the connections the others need). The clients are stripped of everything a browser-like
client does on its own, because a proxy must forward what it was sent and nothing else:

- no default headers (httpx would add ``Accept-Encoding: gzip`` and the upstream would then
  compress for a client that never asked for it, plus its own ``User-Agent``);
- no cookie jar (httpx would keep one user's ``Set-Cookie`` and send it with the next user's
  requests);
- no environment proxies and no redirect following.

Underneath is :class:`gateway.transport.LeanTransport` rather than httpx's default transport;
its docstring says why.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from http.cookiejar import Cookie, CookieJar
from typing import Any

import httpx

from gateway.config import GatewaySettings
from gateway.replicas import ReplicaSet
from gateway.transport import LeanTransport
from mamori_common.settings import SERVICE_NAMES


class _NoCookies(CookieJar):
    """A jar that never keeps anything: cookies belong to the browser, not to the gateway."""

    def set_cookie(self, cookie: Cookie) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


def _timeout(settings: GatewaySettings) -> httpx.Timeout:
    return httpx.Timeout(
        connect=settings.upstream_connect_timeout,
        read=settings.upstream_read_timeout,
        write=settings.upstream_write_timeout,
        pool=settings.upstream_pool_timeout,
    )


def _client(settings: GatewaySettings, transport: LeanTransport) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        timeout=_timeout(settings),
        transport=transport,
        cookies=_NoCookies(),
        follow_redirects=False,
        trust_env=False,
    )
    for name in list(client.headers.keys()):
        del client.headers[name]
    return client


class Upstream:
    """One service as the gateway sees it: its replicas and the pool of connections to them.

    The proxy hands its requests straight to :attr:`transport` (the client's own, so the same
    pool); the client's ``send`` would only add what a proxy turns off (auth, redirects,
    cookies, event hooks) at a measured 50 us per request. Everything else (health checks,
    OpenAPI documents) goes through :attr:`client`.
    """

    def __init__(self, name: str, replicas: ReplicaSet, settings: GatewaySettings) -> None:
        self.name = name
        self.replicas = replicas
        self._settings = settings
        self._client: httpx.AsyncClient | None = None
        self._transport: LeanTransport | None = None
        #: httpx's per-request timeout extension, for requests sent on :attr:`transport`.
        self.timeouts: dict[str, float | None] = _timeout(settings).as_dict()

    @property
    def transport(self) -> LeanTransport:
        self._open()
        assert self._transport is not None
        return self._transport

    @property
    def client(self) -> httpx.AsyncClient:
        self._open()
        assert self._client is not None
        return self._client

    def _open(self) -> None:
        """Created on first use, so an app whose lifespan never ran still works."""
        if self._client is None or self._client.is_closed:
            settings = self._settings
            self._transport = LeanTransport(
                max_connections=settings.upstream_max_connections,
                max_keepalive=settings.upstream_max_keepalive,
                keepalive_expiry=settings.upstream_keepalive_expiry,
            )
            self._client = _client(settings, self._transport)

    async def aclose(self) -> None:
        client, self._client, self._transport = self._client, None, None
        if client is not None:
            await client.aclose()


class Upstreams(Mapping[str, Upstream]):
    """Every service's :class:`Upstream`, by name."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._by_name = {
            name: Upstream(
                name, ReplicaSet(name, settings.upstreams(name), settings.replica_cooldown_seconds), settings
            )
            for name in SERVICE_NAMES
        }

    def __getitem__(self, name: str) -> Upstream:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    async def aclose(self) -> None:
        for upstream in self._by_name.values():
            await upstream.aclose()
