"""A lean HTTP/1.1 transport for the gateway's ``httpx.AsyncClient``.

httpx's default transport (httpcore on anyio) cost about a millisecond of CPU per request at 32
concurrent requests on the machine we measured, and its pool bookkeeping grows with the square
of its connections (encode/httpx#3215): a client alone managed ~110 requests/s at that
concurrency against ~2,450 with this transport (``tests/bench/gateway_hop.py`` measures the hop).
This transport plugs into httpx's documented extension point (``AsyncClient(transport=...)``),
so the client API, the request and response models and the exception classes stay httpx's; what
it replaces is the connection handling underneath:

- one asyncio protocol per connection, parsed with h11 (the parser httpcore uses, so the same
  framing rules: HEAD, 1xx, 204/304, chunked, close-delimited);
- a pool per transport with O(1) acquire and release, idle connections reused newest first,
  dropped when the server closes them or after ``keepalive_expiry``;
- httpx's four timeouts (connect, read, write, pool), honoured per request;
- back-pressure both ways: reading pauses while the consumer holds unread data, writing waits
  for the socket to drain, so neither body is ever held whole.

It speaks plain HTTP/1.1 over TCP only (``http://`` upstreams, no proxies, no HTTP/2), which is
all the gateway needs on a private network.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import h11
import httpx

Origin = tuple[str, int]
_READ_HIGH_WATER = 256 * 1024


class _Connection(asyncio.Protocol):
    """One keep-alive connection to an upstream: bytes in and out, parsed by h11."""

    def __init__(self, origin: Origin, on_lost: Callable[[_Connection], None]) -> None:
        self.origin = origin
        self.idle_since = 0.0
        self.idle = False
        self.closed = False
        #: Whether the pool has already stopped counting this connection as open.
        self.counted_out = False
        self._on_lost = on_lost
        self._h11 = h11.Connection(h11.CLIENT)
        self._transport: asyncio.Transport | None = None
        self._incoming: list[bytes] = []
        self._buffered = 0
        self._reading_paused = False
        self._data_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._writing_paused = False

    # asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self.idle:  # nothing was asked: a late or unsolicited answer, never reuse this one
            self.close()
            return
        self._incoming.append(data)
        self._buffered += len(data)
        if self._buffered > _READ_HIGH_WATER and not self._reading_paused and self._transport is not None:
            self._reading_paused = True
            self._transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake_reader()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake_reader()
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(httpx.WriteError("the connection was closed while writing"))
        self._on_lost(self)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_reader(self) -> None:
        waiter, self._data_waiter = self._data_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # I/O -------------------------------------------------------------------------------------

    async def _write(self, data: bytes, timeout: float | None) -> None:
        if self.closed or self._transport is None or self._transport.is_closing():
            raise httpx.WriteError("the connection is closed")
        self._transport.write(data)
        if self._writing_paused:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._drain_waiter
            except TimeoutError as exc:
                raise httpx.WriteTimeout("the upstream stopped reading the request") from exc

    async def _read(self, timeout: float | None) -> bytes:
        """The bytes received so far, waiting for some; ``b""`` once the server has closed."""
        if not self._incoming and not self.closed:
            self._data_waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._data_waiter
            except TimeoutError as exc:
                raise httpx.ReadTimeout("the upstream did not answer in time") from exc
        if not self._incoming:
            return b""
        data = self._incoming[0] if len(self._incoming) == 1 else b"".join(self._incoming)
        self._incoming.clear()
        self._buffered = 0
        if self._reading_paused and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()
        return data

    def _send_event(self, event: Any) -> bytes:
        try:
            return self._h11.send(event) or b""
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc

    async def _next_event(self, timeout: float | None) -> Any:
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event
            self._h11.receive_data(await self._read(timeout))

    # one exchange ----------------------------------------------------------------------------

    async def send_request(self, request: httpx.Request, timeouts: dict[str, float | None]) -> None:
        write_timeout = timeouts.get("write")
        head = h11.Request(
            method=request.method,
            target=request.url.raw_path,
            headers=request.headers.raw,
        )
        pending = self._send_event(head)
        stream = request.stream
        if isinstance(stream, httpx.ByteStream):  # a body held in memory (or none): one write
            body = b"".join([chunk async for chunk in stream])
            if body:
                pending += self._send_event(h11.Data(data=body))
            await self._write(pending + self._send_event(h11.EndOfMessage()), write_timeout)
            return
        await self._write(pending, write_timeout)
        assert isinstance(stream, httpx.AsyncByteStream)
        async for chunk in stream:
            if chunk:
                await self._write(self._send_event(h11.Data(data=chunk)), write_timeout)
        await self._write(self._send_event(h11.EndOfMessage()), write_timeout)

    async def receive_head(self, timeouts: dict[str, float | None]) -> h11.Response:
        read_timeout = timeouts.get("read")
        while True:
            event = await self._next_event(read_timeout)
            if isinstance(event, h11.Response):
                return event
            if isinstance(event, h11.InformationalResponse):
                continue
            if event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} before the response")

    async def body(self, timeouts: dict[str, float | None]) -> AsyncIterator[bytes]:
        read_timeout = timeouts.get("read")
        while True:
            event = await self._next_event(read_timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return
            else:
                raise httpx.RemoteProtocolError("Server disconnected before the end of the response.")

    def finish_cycle(self) -> bool:
        """Ready the connection for the next request; False when it cannot be reused."""
        if self.closed or self._h11.our_state is not h11.DONE or self._h11.their_state is not h11.DONE:
            return False
        try:
            self._h11.start_next_cycle()
        except h11.LocalProtocolError:
            return False
        return not self._incoming  # bytes nobody asked for: the stream is out of step

    def close(self) -> None:
        self.closed = True
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()


class _ResponseBody(httpx.AsyncByteStream):
    """The response body, read from the connection as httpx asks; the connection goes back to
    the pool only when the body was read to its end."""

    def __init__(self, pool: LeanTransport, connection: _Connection, timeouts: dict[str, float | None]) -> None:
        self._pool = pool
        self._connection: _Connection | None = connection
        self._timeouts = timeouts
        self._complete = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            raise httpx.StreamClosed()
        try:
            async for chunk in connection.body(self._timeouts):
                yield chunk
        except OSError as exc:
            raise httpx.ReadError(str(exc)) from exc
        self._complete = True

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.release(connection, reusable=self._complete and connection.finish_cycle())


class LeanTransport(httpx.AsyncBaseTransport):
    """A pool of HTTP/1.1 connections, shared by every origin the client calls."""

    def __init__(self, *, max_connections: int, max_keepalive: int, keepalive_expiry: float) -> None:
        self.max_connections = max_connections
        self.max_keepalive = max_keepalive
        self.keepalive_expiry = keepalive_expiry
        self._open = 0
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._idle_count = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"the gateway transport speaks plain http, not {url.scheme!r}")
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        connection = await self._acquire((url.host, url.port or 80), timeouts)
        try:
            await connection.send_request(request, timeouts)
            head = await connection.receive_head(timeouts)
        except OSError as exc:
            self.release(connection, reusable=False)
            raise httpx.ReadError(str(exc)) from exc
        except BaseException:
            self.release(connection, reusable=False)
            raise
        return httpx.Response(
            head.status_code,
            headers=head.headers,
            stream=_ResponseBody(self, connection, timeouts),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": bytes(head.reason)},
        )

    # the pool --------------------------------------------------------------------------------

    async def _acquire(self, origin: Origin, timeouts: dict[str, float | None]) -> _Connection:
        deadline: float | None = None
        while True:
            connection = self._pop_idle(origin)
            if connection is not None:
                return connection
            if self._open >= self.max_connections and self._idle_count:
                self._evict_one_idle()  # an idle connection to another replica gives way
            if self._open < self.max_connections:
                return await self._connect(origin, timeouts.get("connect"))
            pool_timeout = timeouts.get("pool")
            if deadline is None and pool_timeout is not None:
                deadline = time.monotonic() + pool_timeout
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout(None if deadline is None else max(0.0, deadline - time.monotonic())):
                    await waiter
            except TimeoutError as exc:
                raise httpx.PoolTimeout("every connection to the upstream is busy") from exc
            finally:
                if not waiter.done():
                    waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)

    def _pop_idle(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # newest first: the one least likely to have been closed
            self._idle_count -= 1
            if not connection.closed and now - connection.idle_since < self.keepalive_expiry:
                connection.idle = False
                return connection
            self._drop(connection)
        return None

    def _evict_one_idle(self) -> None:
        for idle in self._idle.values():
            if idle:
                self._idle_count -= 1
                self._drop(idle.popleft())
                return

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        self._open += 1
        loop = asyncio.get_running_loop()
        connection = _Connection(origin, self._lost)
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(lambda: connection, origin[0], origin[1])
        except TimeoutError as exc:
            self._forget()
            raise httpx.ConnectTimeout(f"no connection to {origin[0]}:{origin[1]} in time") from exc
        except OSError as exc:
            self._forget()
            raise httpx.ConnectError(f"cannot connect to {origin[0]}:{origin[1]}: {exc}") from exc
        except BaseException:
            self._forget()
            raise
        return connection

    def release(self, connection: _Connection, *, reusable: bool) -> None:
        """Back to the pool (reusable and room for it) or closed; either way a waiter may go."""
        if reusable and not self._closed and self._idle_count < self.max_keepalive:
            connection.idle_since = time.monotonic()
            connection.idle = True
            self._idle.setdefault(connection.origin, deque()).append(connection)
            self._idle_count += 1
        else:
            self._drop(connection)
        self._wake_one()

    def _drop(self, connection: _Connection) -> None:
        connection.idle = False
        if not connection.counted_out:
            connection.counted_out = True
            self._open -= 1
        connection.close()

    def _forget(self) -> None:
        self._open -= 1
        self._wake_one()

    def _lost(self, connection: _Connection) -> None:
        """A connection closed under us; an idle one leaves the pool at once."""
        idle = self._idle.get(connection.origin)
        if idle is not None and connection in idle:
            idle.remove(connection)
            self._idle_count -= 1
            self._drop(connection)
            self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while idle:
                self._drop(idle.pop())
        self._idle.clear()
        self._idle_count = 0


