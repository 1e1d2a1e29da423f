"""The pooled HTTP clients the gateway talks to each service with (aiohttp).

One ``aiohttp.ClientSession`` per service, each with its own connection pool, and a bulkhead
(at most ``upstream_max_connections`` requests in flight per service, waiting at most
``upstream_pool_timeout`` for a slot) so a slow service cannot take what the others need.

aiohttp rather than httpx's default transport: httpcore's pool bookkeeping grows with the square
of its connections (encode/httpx#3215) and cost about a millisecond of CPU per request at 32
concurrent requests; aiohttp's pool is the well-kept one that issue points to. It also reads the
answer while it is still writing the request body, so a service that refuses an upload halfway
(413, 401) is heard instead of turning into a 502, and it never reuses a connection on which the
server sent more than one answer.

The sessions are stripped of everything a browser-like client does on its own, because a proxy
must forward what it was sent and nothing else: no ``Accept``, ``Accept-Encoding``,
``User-Agent`` or ``Content-Type`` of its own, no decompression, no cookie jar (one user's
``Set-Cookie`` must never ride along with the next user's request), no environment proxies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping

import aiohttp
from multidict import CIMultiDict

from gateway.config import GatewaySettings
from mamori_common.replicas import ReplicaSet
from mamori_common.settings import SERVICE_NAMES

#: Headers aiohttp would add when the client did not send them.
SKIPPED_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
_SKIPPED = CIMultiDict[None]((name, None) for name in SKIPPED_AUTO_HEADERS)


class ForwardedRequest(aiohttp.ClientRequest):
    """A request that carries the headers it was given and none of aiohttp's own.

    The same outcome as ``skip_auto_headers=SKIPPED_AUTO_HEADERS`` on the session, which makes
    aiohttp rebuild the skip list and copy every header of every request to check against it;
    here the list is made once. (``tests/test_gateway.py`` checks that nothing is added.)"""

    def update_auto_headers(self, skip_auto_headers: Iterable[str] | None) -> None:
        self._skip_auto_headers = _SKIPPED  # also read for the default Content-Type of a body


class PoolBusy(Exception):
    """Every connection slot to the service stayed taken for ``upstream_pool_timeout``."""


class Upstream:
    """One service as the gateway sees it: its replicas and the pool of connections to them."""

    def __init__(self, name: str, replicas: ReplicaSet, settings: GatewaySettings) -> None:
        self.name = name
        self.replicas = replicas
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        #: By read timeout: the route table has a few, and every request needs one.
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        """Created on first use, inside the running loop (an app whose lifespan never ran still works)."""
        if self._session is None or self._session.closed:
            settings = self._settings
            connector = aiohttp.TCPConnector(
                limit=settings.upstream_max_connections,
                limit_per_host=0,
                keepalive_timeout=settings.upstream_keepalive_expiry,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                request_class=ForwardedRequest,
                trust_env=False,
                timeout=self.timeout(settings.upstream_read_timeout or 30.0),
            )
            self._slots = asyncio.Semaphore(settings.upstream_max_connections)
        return self._session

    def timeout(self, read: float) -> aiohttp.ClientTimeout:
        """Connect in ``upstream_connect_timeout``; then each read may take ``read`` seconds
        (or ``upstream_read_timeout`` when set)."""
        timeout = self._timeouts.get(read)
        if timeout is None:
            timeout = self._timeouts[read] = aiohttp.ClientTimeout(
                total=None,
                sock_connect=self._settings.upstream_connect_timeout,
                sock_read=self._settings.upstream_read_timeout or read,
            )
        return timeout

    async def take_slot(self) -> None:
        """A place in the bulkhead for one request, held until its answer is relayed (then
        :meth:`free_slot`); :class:`PoolBusy` when none frees up in ``upstream_pool_timeout``.
        Two calls rather than a context manager: this runs for every request."""
        self.session  # noqa: B018 (creates the semaphore with the session)
        assert self._slots is not None
        if self._slots.locked():  # only then is there a wait to bound (a timer costs every request)
            try:
                async with asyncio.timeout(self._settings.upstream_pool_timeout):
                    await self._slots.acquire()
            except TimeoutError as exc:
                raise PoolBusy(self.name) from exc
        else:
            await self._slots.acquire()

    def free_slot(self) -> None:
        assert self._slots is not None
        self._slots.release()

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


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
