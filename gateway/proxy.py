"""Forwarding one request to the service that owns its path, streaming both ways.

Neither body is ever held whole: the request body is read from the client only as the upstream
connection takes it (``receive`` → httpx), and the answer is relayed chunk by chunk as it
arrives (``aiter_raw``, so no decompression either), so a 20 MB upload costs a few chunks of
memory and back-pressure reaches the slow side. The answer is written with plain ASGI messages
rather than a ``StreamingResponse``: under uvicorn the latter starts a task group per response to
watch for disconnects, a cost every small answer would pay. Requests go to the service's
transport directly (see :class:`gateway.upstreams.Upstream`).

Failures become problem documents the client can act on: 502 ``service_unavailable`` when no
replica accepts a connection, 504 ``gateway_timeout`` when one does not answer in time, 503
``gateway_busy`` when every pooled connection is taken. A request is retried once on the next
replica only when that cannot run it twice: the connection was refused before any of the body
was read, or a safe method (GET, HEAD, OPTIONS) found its pooled connection closed under it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
from prometheus_client import Counter

from gateway.clients import SCOPE_KEY, ClientContext
from gateway.context import ROUTE_KEY
from gateway.forwarding import has_body, request_headers, response_headers
from gateway.routing import PREFIXES, DEFAULT_SERVICE, is_internal, is_malformed, service_for
from gateway.replicas import Replica
from gateway.upstreams import Upstream, Upstreams
from mamori_common.problems import Problem, problem_response
from starlette.types import Receive, Scope, Send

logger = logging.getLogger("mamori.gateway.proxy")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROUTE_LABELS = {service: f"{prefix}/{{path}}" for prefix, service in PREFIXES} | {DEFAULT_SERVICE: "/{path}"}
UPSTREAM_KEY = "mamori.upstream"


class ClientDisconnected(Exception):
    """The client went away while its request body was still being forwarded."""


class _RequestBody:
    """The client's request body, read from ``receive`` only as the upstream asks for it."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.started = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            message = await self._receive()
            self.started = True
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunk = message.get("body", b"")
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
        started = False

        async def send_tracked(message: Any) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._forward(scope, receive, send_tracked)
        except Problem as problem:
            if not started:
                await problem_response(problem, scope["path"])(scope, receive, send)
        except ClientDisconnected:
            logger.info("client disconnected during upload", extra={"path": scope["path"]})
        except Exception:  # a bug: still answer with a problem, never a bare 500 page
            logger.exception("proxy error", extra={"path": scope["path"]})
            if not started:
                problem = Problem(500, "internal_error", "An unexpected error occurred in the gateway.")
                await problem_response(problem, scope["path"])(scope, receive, send)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if is_malformed(path):
            raise Problem(400, "malformed_path", "The path has dot segments or characters no client sends.")
        if is_internal(path):
            raise Problem(404, "not_found", "No public route has this path.")
        service = service_for(path)
        scope[ROUTE_KEY] = ROUTE_LABELS[service]
        upstream = self.upstreams[service]
        context: ClientContext = scope[SCOPE_KEY]
        headers = request_headers(scope["headers"], context)
        body = _RequestBody(receive) if has_body(scope["headers"]) else None
        raw_path: bytes = scope.get("raw_path") or path.encode()
        query: bytes = scope.get("query_string", b"")
        target = (raw_path + b"?" + query if query else raw_path).decode("latin-1")
        response = await self._open(scope, upstream, scope["method"], target, headers, body)
        await self._relay(response, send, upstream)

    async def _open(
        self,
        scope: Scope,
        upstream: Upstream,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: _RequestBody | None,
    ) -> httpx.Response:
        transport = upstream.transport
        extensions = {"timeout": upstream.timeouts}
        candidates = upstream.replicas.candidates()[:2]  # the first choice, and one retry
        for index, replica in enumerate(candidates):
            scope[UPSTREAM_KEY] = replica.url
            content = body.chunks() if body is not None else None
            request = httpx.Request(method, replica.url + target, headers=headers, content=content, extensions=extensions)
            try:
                response = await transport.handle_async_request(request)
            except httpx.HTTPError as exc:
                problem, retryable = self._classify(exc, upstream, replica, method, body)
                if not retryable or index + 1 == len(candidates):
                    raise problem from exc
                logger.info("retrying on the next replica", extra={"upstream_service": upstream.name, "replica": replica.url})
                continue
            if replica.down_until:
                upstream.replicas.mark_up(replica)
            return response
        raise AssertionError("a replica set is never empty")

    def _classify(
        self, exc: httpx.HTTPError, upstream: Upstream, replica: Replica, method: str, body: _RequestBody | None
    ) -> tuple[Problem, bool]:
        """The problem an httpx failure stands for, and whether the next replica may be tried.

        Marks a replica that refused (or never accepted) the connection as down."""
        name = upstream.name
        if isinstance(exc, httpx.LocalProtocolError):  # the client's request cannot be put on the wire
            return Problem(400, "malformed_request", "The request cannot be forwarded as HTTP/1.1."), False
        if isinstance(exc, httpx.ConnectError):
            upstream.replicas.mark_down(replica)
            self.failures.labels(name, "refused").inc()
            unread = body is None or not body.started
            return Problem(502, "service_unavailable", f"The {name} service is unavailable."), unread
        if isinstance(exc, httpx.ConnectTimeout):
            upstream.replicas.mark_down(replica)
            self.failures.labels(name, "connect_timeout").inc()
            return Problem(504, "gateway_timeout", f"The {name} service did not accept a connection in time."), False
        if isinstance(exc, httpx.PoolTimeout):
            self.failures.labels(name, "pool_exhausted").inc()
            problem = Problem(
                503, "gateway_busy", f"Too many requests are waiting for the {name} service.", headers={"Retry-After": "1"}
            )
            return problem, False
        if isinstance(exc, httpx.TimeoutException):
            self.failures.labels(name, "timeout").inc()
            return Problem(504, "gateway_timeout", f"The {name} service did not answer in time."), False
        self.failures.labels(name, "broken").inc()
        logger.warning("upstream failed", extra={"upstream_service": name, "replica": replica.url, "error": repr(exc)})
        problem = Problem(502, "bad_gateway", f"The {name} service closed the connection without an answer.")
        # Most likely a pooled connection the replica had just closed: safe to repeat a read.
        return problem, body is None and method in SAFE_METHODS

    async def _relay(self, response: httpx.Response, send: Send, upstream: Upstream) -> None:
        """Stream the upstream's answer to the client, each chunk as soon as it arrives (a
        long-poll or progress stream must not wait for the next one). When the length is known,
        the chunk that completes it carries ``more_body: False``, so a small answer costs two
        messages, not three."""
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": response_headers(response.headers.raw),
                }
            )
            length = response.headers.get("content-length")
            remaining = int(length) if length is not None and length.isdigit() else -1
            finished = False
            async for chunk in response.aiter_raw():  # read to the end, so the connection is reused
                if remaining > 0:
                    remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": remaining != 0})
                finished = remaining == 0
            if not finished:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.HTTPError as exc:
            # Headers are gone already: the only honest signal left is to cut the connection,
            # which returning with the response unfinished makes the server do.
            self.failures.labels(upstream.name, "broken_answer").inc()
            logger.warning("upstream broke off its answer", extra={"upstream_service": upstream.name, "error": repr(exc)})
        finally:
            await response.aclose()
