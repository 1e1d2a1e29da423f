"""Forwarding one request to the service that owns its path, streaming both ways.

Neither body is ever held whole: the request body is read from the client only as the upstream
connection takes it (``receive`` → aiohttp), and the answer is relayed chunk by chunk as it
arrives (no decompression either), so a 10 MB upload costs a few chunks of memory and
back-pressure reaches the slow side. The answer is written with plain ASGI messages rather than
a ``StreamingResponse``: under uvicorn the latter starts a task group per response to watch for
disconnects, a cost every small answer would pay.

The route table (:mod:`gateway.routing`) decides the service, the body limit and the read
timeout; a body over its route's limit is refused with ``413 body_too_large`` before the service
reads it (by its ``Content-Length``) or as soon as it grows past the limit (chunked).

Failures become the problem documents of :mod:`gateway.edge_problems`: 502
``service_unavailable`` when no replica accepts a connection, 504 ``gateway_timeout`` when one
does not answer in time, 503 ``gateway_busy`` when every pooled connection is taken. A request is
retried once on the next replica only when that cannot run it twice: the connection was refused
before any of the body was read, or a safe method (GET, HEAD, OPTIONS) found its pooled
connection closed under it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from urllib.parse import unquote_plus

import aiohttp
from prometheus_client import Counter
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from yarl import URL

from gateway import edge_problems
from gateway.clients import SCOPE_KEY, ClientContext
from gateway.context import ROUTE_KEY
from gateway.forwarding import declared_length, has_body, request_headers, response_headers
from gateway.routing import DEFAULT_SERVICE, ROUTES, is_malformed, is_refused, route_for
from gateway.upstreams import PoolBusy, Upstream, Upstreams
from mamori_common.card_numbers import contains_card_number
from mamori_common.observability import loggable_path
from mamori_common.problems import Problem, problem_response
from mamori_common.replicas import Replica

logger = logging.getLogger("mamori.gateway.proxy")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROUTE_LABELS = {route.service: f"{route.path}/{{path}}" for route in ROUTES} | {DEFAULT_SERVICE: "/{path}"}
UPSTREAM_KEY = "mamori.upstream"
#: Set once the upstream's answer has started going to the client (no problem document after it).
ANSWERING_KEY = "mamori.answering"
# STALE_TIMEOUT: a read timeout that fires long before the read timeout is not a slow service.
# aiohttp 3.14 can restart a connection's read timer after a large answer has ended (reading was
# paused and resumed); the timer then fires on the idle pooled connection, and the next request
# on it fails at once. That is a broken pooled connection, retried like one (safe methods only),
# and a connection goes back to the pool only after an answer that fit aiohttp's read buffer.
REUSE_AFTER_AT_MOST = 64 * 1024


def _refusal(problem: Problem, path: str) -> Response:
    """The problem document; but a body too large for a portal page gets a page a person reads
    (nginx answers the same, gateway/nginx.py)."""
    if problem is edge_problems.BODY_TOO_LARGE and not is_malformed(path) and route_for(path).service == "portal":
        return Response(edge_problems.TOO_LARGE_PAGE, status_code=413, media_type=edge_problems.PAGE_TYPE)
    return problem_response(problem)


#: The ids Mamori issues (32 hex digits): decimals in a row inside one are no card number.
_HEX_IDS = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32}(?![0-9A-Za-z])")


def card_number_in_target(scope: Scope) -> bool:
    """Whether the path or the query holds a full card number (the kit's detector, on both as a
    client wrote them, decoded): refused at the edge, as nginx does, before it goes further."""
    query = unquote_plus(scope.get("query_string", b"").decode("latin-1"))
    target = _HEX_IDS.sub("-", f"{scope['path']}?{query}" if query else scope["path"])
    return contains_card_number(target)


class ClientDisconnected(Exception):
    """The client went away while its request body was still being forwarded."""


class BodyTooLarge(Exception):
    """The (chunked) request body grew past its route's limit."""


class _RequestBody:
    """The client's request body, read from ``receive`` only as the upstream asks for it.

    aiohttp wraps whatever this iterator raises into its own connection error, so the reason is
    also kept here for the proxy to read."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self._limit = limit
        self.started = False
        self.failure: Exception | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        received = 0
        while True:
            message = await self._receive()
            self.started = True
            if message["type"] == "http.disconnect":
                self.failure = ClientDisconnected()
                raise self.failure
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self._limit:
                self.failure = BodyTooLarge()
                raise self.failure
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


class Proxy:
    """The ASGI app behind every path the gateway does not answer itself."""

    def __init__(self, upstreams: Upstreams, failures: Counter) -> None:
        self.upstreams = upstreams
        self.failures = failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._forward(scope, receive, send)
        except Problem as problem:
            if not scope.get(ANSWERING_KEY):
                await _refusal(problem, scope["path"])(scope, receive, send)
        except ClientDisconnected:
            logger.info("client disconnected during upload", extra={"path": loggable_path(scope["path"])})
        except Exception:  # a bug: still answer with a problem, never a bare 500 page
            logger.exception("proxy error", extra={"path": loggable_path(scope["path"])})
            if not scope.get(ANSWERING_KEY):
                failure = Problem(500, "internal_error", "An unexpected error occurred in the gateway.")
                await problem_response(failure)(scope, receive, send)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if is_malformed(path):
            raise edge_problems.MALFORMED_PATH
        if card_number_in_target(scope):
            raise edge_problems.CARD_NUMBER_IN_TARGET
        if is_refused(path):
            raise edge_problems.NOT_FOUND
        route = route_for(path)
        length = declared_length(scope["headers"])
        if length is not None and length > route.max_body:
            raise edge_problems.BODY_TOO_LARGE
        scope[ROUTE_KEY] = ROUTE_LABELS[route.service]
        upstream = self.upstreams[route.service]
        context: ClientContext = scope[SCOPE_KEY]
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request_headers(scope["headers"], context)
        ]
        body = _RequestBody(receive, route.max_body) if has_body(scope["headers"]) else None
        raw_path: bytes = scope.get("raw_path") or path.encode()
        query: bytes = scope.get("query_string", b"")
        target = (raw_path + b"?" + query if query else raw_path).decode("latin-1")
        try:
            await upstream.take_slot()
        except PoolBusy as exc:
            self.failures.labels(upstream.name, "pool_exhausted").inc()
            raise Problem(
                503, "gateway_busy", f"Too many requests are waiting for the {upstream.name} service.",
                headers={"Retry-After": "1"},
            ) from exc  # fmt: skip
        try:
            response = await self._open(scope, upstream, route.read_timeout, target, headers, body)
            await self._relay(response, scope, send, upstream)
        finally:
            upstream.free_slot()

    async def _open(
        self,
        scope: Scope,
        upstream: Upstream,
        read_timeout: float,
        target: str,
        headers: list[tuple[str, str]],
        body: _RequestBody | None,
    ) -> aiohttp.ClientResponse:
        method: str = scope["method"]
        timeout = upstream.timeout(read_timeout)
        candidates = upstream.replicas.candidates()[:2]  # the first choice, and one retry
        for index, replica in enumerate(candidates):
            scope[UPSTREAM_KEY] = replica.url
            started = time.monotonic()
            try:
                response = await upstream.session.request(
                    method,
                    URL(replica.url + target, encoded=True),
                    headers=headers,
                    data=body.chunks() if body is not None else None,
                    allow_redirects=False,
                    timeout=timeout,
                )
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                if body is not None and isinstance(body.failure, BodyTooLarge):
                    raise edge_problems.BODY_TOO_LARGE from exc
                if body is not None and isinstance(body.failure, ClientDisconnected):
                    raise body.failure from exc
                if (
                    isinstance(exc, aiohttp.SocketTimeoutError)
                    and time.monotonic() - started < (timeout.sock_read or 0) / 2
                ):
                    exc = aiohttp.ServerDisconnectedError("a pooled connection failed at once")  # see STALE_TIMEOUT
                problem, retryable = self._classify(exc, upstream, replica, method, body)
                if not retryable or index + 1 == len(candidates):
                    raise problem from exc
                logger.info(
                    "retrying on the next replica", extra={"upstream_service": upstream.name, "replica": replica.url}
                )
                continue
            if replica.down_until:
                upstream.replicas.mark_up(replica)
            return response
        raise AssertionError("a replica set is never empty")

    def _classify(
        self, exc: Exception, upstream: Upstream, replica: Replica, method: str, body: _RequestBody | None
    ) -> tuple[Problem, bool]:
        """The problem an aiohttp failure stands for, and whether the next replica may be tried.

        Marks a replica that refused (or never accepted) the connection as down."""
        name = upstream.name
        if isinstance(exc, ValueError):  # the client's request cannot be put on the wire
            return edge_problems.MALFORMED_REQUEST, False
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            upstream.replicas.mark_down(replica)
            self.failures.labels(name, "connect_timeout").inc()
            return Problem(504, "gateway_timeout", f"The {name} service did not accept a connection in time."), False
        if isinstance(exc, aiohttp.ClientConnectorError):
            upstream.replicas.mark_down(replica)
            self.failures.labels(name, "refused").inc()
            unread = body is None or not body.started
            return Problem(502, "service_unavailable", f"The {name} service is unavailable."), unread
        if isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
            self.failures.labels(name, "timeout").inc()
            return Problem(504, "gateway_timeout", f"The {name} service did not answer in time."), False
        self.failures.labels(name, "broken").inc()
        logger.warning("upstream failed", extra={"upstream_service": name, "replica": replica.url, "error": repr(exc)})
        problem = Problem(502, "bad_gateway", f"The {name} service closed the connection without an answer.")
        # Most likely a pooled connection the replica had just closed: safe to repeat a read.
        return problem, body is None and method in SAFE_METHODS

    async def _relay(self, response: aiohttp.ClientResponse, scope: Scope, send: Send, upstream: Upstream) -> None:
        """Stream the upstream's answer to the client, each chunk as soon as it arrives (a
        long-poll or progress stream must not wait for the next one). When the length is known,
        the chunk that completes it carries ``more_body: False``, so a small answer costs two
        messages, not three."""
        complete = False
        relayed = 0
        scope[ANSWERING_KEY] = True
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": response_headers(response.raw_headers),
                }
            )
            remaining = response.content_length if response.content_length is not None else -1
            finished = False
            async for chunk in response.content.iter_any():
                relayed += len(chunk)
                if remaining > 0:
                    remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": remaining != 0})
                if remaining == 0:
                    finished = True
                    break  # all of it: no need to wait for the reader to say so
            if not finished:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            complete = True
        except (TimeoutError, aiohttp.ClientError) as exc:
            # Headers are gone already: the only honest signal left is to cut the connection,
            # which returning with the response unfinished makes the server do.
            self.failures.labels(upstream.name, "broken_answer").inc()
            logger.warning(
                "upstream broke off its answer", extra={"upstream_service": upstream.name, "error": repr(exc)}
            )
        finally:
            if complete and relayed <= REUSE_AFTER_AT_MOST:  # see STALE_TIMEOUT
                response.release()
            else:
                response.close()
