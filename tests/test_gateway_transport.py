"""The gateway's HTTP/1.1 transport against hand-written servers: framing, reuse, timeouts.

Each test runs its own event loop with a raw asyncio server that answers exactly the bytes the
case needs (chunked, close-delimited, early close, silence), which no framework would send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from gateway.transport import LeanTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
TIMEOUT = httpx.Timeout(connect=1.0, read=0.3, write=1.0, pool=0.3)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return head


def client(transport: LeanTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, timeout=TIMEOUT)


def run(handler: Handler, test: Callable[[str, dict[str, int]], Awaitable[Any]]) -> Any:
    """Serve ``handler`` on a loopback port and run ``test(base_url, stats)``."""

    async def main() -> Any:
        stats = {"connections": 0}

        async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            stats["connections"] += 1
            try:
                await handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                return  # the client went away: nothing more to serve
            finally:
                writer.close()

        server = await asyncio.start_server(counted, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await test(f"http://127.0.0.1:{port}", stats)

    return asyncio.run(main())


def pool(**overrides: Any) -> LeanTransport:
    options: dict[str, Any] = {"max_connections": 10, "max_keepalive": 10, "keepalive_expiry": 5.0}
    options.update(overrides)
    return LeanTransport(**options)


async def keep_alive_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()


def test_connections_are_reused() -> None:
    async def test(url: str, stats: dict[str, int]) -> list[bytes]:
        async with client(pool()) as http:
            bodies = [(await http.get(f"{url}/{index}")).content for index in range(5)]
        return bodies + [str(stats["connections"]).encode()]

    assert run(keep_alive_ok, test) == [b"ok"] * 5 + [b"1"]


def test_chunked_and_close_delimited_bodies() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await read_request(reader)
            if b"/chunked" in head:
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
                await writer.drain()
                return

    async def test(url: str, stats: dict[str, int]) -> list[bytes]:
        async with client(pool()) as http:
            return [(await http.get(f"{url}/chunked")).content, (await http.get(f"{url}/close")).content]

    assert run(handler, test) == [b"abcde", b"until the end"]


def test_head_answer_has_no_body_and_the_connection_stays_usable() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await read_request(reader)
            if head.startswith(b"HEAD"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nget")

    async def test(url: str, stats: dict[str, int]) -> tuple[bytes, bytes, int]:
        async with client(pool()) as http:
            head = await http.head(url)
            get = await http.get(url)
        return head.content, get.content, stats["connections"]

    assert run(handler, test) == (b"", b"get", 1)


def test_streamed_request_body_is_chunked_and_arrives_whole() -> None:
    received: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"transfer-encoding: chunked" in head.lower()
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
        received.append(body)
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")

    async def body() -> Any:
        for part in (b"one ", b"two ", b"three"):
            yield part

    async def test(url: str, stats: dict[str, int]) -> int:
        async with client(pool()) as http:
            return (await http.post(url, content=body())).status_code

    assert run(handler, test) == 204
    assert received == [b"one two three"]


def test_server_closing_an_idle_connection_is_noticed() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()  # keep-alive promised, then the connection closes while idle

    async def test(url: str, stats: dict[str, int]) -> tuple[bytes, bytes, int]:
        async with client(pool()) as http:
            first = await http.get(url)
            await asyncio.sleep(0.2)
            second = await http.get(url)
        return first.content, second.content, stats["connections"]

    assert run(handler, test) == (b"ok", b"ok", 2)


def test_expired_idle_connections_are_not_reused() -> None:
    async def test(url: str, stats: dict[str, int]) -> int:
        async with client(pool(keepalive_expiry=0.05)) as http:
            await http.get(url)
            await asyncio.sleep(0.1)
            await http.get(url)
        return stats["connections"]

    assert run(keep_alive_ok, test) == 2


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (None, httpx.ReadTimeout),  # silence
        (b"", httpx.RemoteProtocolError),  # closed before any answer
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", httpx.RemoteProtocolError),
        (b"NONSENSE\r\n\r\n", httpx.RemoteProtocolError),
    ],
)
def test_broken_answers_become_httpx_errors(answer: bytes | None, error: type[Exception]) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        if answer is None:
            await asyncio.sleep(2)
        else:
            writer.write(answer)
            await writer.drain()

    async def test(url: str, stats: dict[str, int]) -> None:
        async with client(pool()) as http:
            with pytest.raises(error):
                await http.get(url)

    run(handler, test)


def test_refused_connection_is_a_connect_error() -> None:
    async def test(url: str, stats: dict[str, int]) -> None:
        async with client(pool()) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get("http://127.0.0.1:1/")

    run(keep_alive_ok, test)


def test_a_full_pool_makes_the_next_request_wait_then_time_out() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n")
        await writer.drain()
        await asyncio.sleep(2)

    async def test(url: str, stats: dict[str, int]) -> None:
        async with client(pool(max_connections=1)) as http:
            held = await http.send(http.build_request("GET", url), stream=True)
            with pytest.raises(httpx.PoolTimeout):
                await http.get(url)
            await held.aclose()

    run(handler, test)


def test_a_released_connection_goes_to_the_waiting_request() -> None:
    async def test(url: str, stats: dict[str, int]) -> list[int]:
        async with client(pool(max_connections=1)) as http:
            results = await asyncio.gather(*(http.get(f"{url}/{index}") for index in range(5)))
        return [response.status_code for response in results] + [stats["connections"]]

    assert run(keep_alive_ok, test) == [200] * 5 + [1]
