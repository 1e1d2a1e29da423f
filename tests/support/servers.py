"""Serve an ASGI app with a real uvicorn server on a loopback port, in a background thread.

In-process ``TestClient`` calls never leave the process; these servers accept real TCP
connections, so a test can make a subscriber unreachable (not started yet, or stopped) and bring
it back on the same address, the way a crashed or redeployed service behaves.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK = "127.0.0.1"


T = TypeVar("T")


def free_port(host: str = LOOPBACK) -> int:
    """A port nobody listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_until(predicate: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what or predicate!r}")
        time.sleep(interval)


class ServerThread:
    """One uvicorn server (with the app's lifespan) running in a daemon thread.

    ``start`` returns once the socket accepts connections; ``stop`` returns once the server has
    shut down and closed its socket, so the same port can be served again at once.
    """

    def __init__(self, app: ASGIApp, port: int | None = None, host: str = LOOPBACK) -> None:
        self.app = app
        self.host = host
        self.port = port or free_port(host)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> ServerThread:
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            lifespan="on",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"uvicorn-{self.port}", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"the server on port {self.port} stopped while starting")
            if time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError(f"the server on port {self.port} did not start in {timeout:.0f}s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)
        self._server = self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@contextmanager
def serve(app: ASGIApp, port: int | None = None) -> Iterator[ServerThread]:
    """``with serve(app) as server: ... server.url ...``"""
    server = ServerThread(app, port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class CountingSubscriber:
    """A stand-in subscriber that accepts and records every POST, duplicates included.

    A real inbox hides a duplicate delivery (it answers ``duplicate`` and changes nothing); this
    one keeps every request, so a test can prove each event crossed the wire exactly once.
    """

    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        request = Request(scope, receive)
        if request.method != "POST":
            await JSONResponse({"code": "not_found"}, status_code=404)(scope, receive, send)
            return
        body = await request.json()
        with self._lock:
            self.received.append(Received(request.url.path, dict(request.headers), body))
        await JSONResponse({"status": "recorded", "event_id": body.get("id", "")})(scope, receive, send)

    def event_ids(self) -> list[str]:
        with self._lock:
            return [item.body["id"] for item in self.received]

    def paths(self) -> list[str]:
        with self._lock:
            return [item.path for item in self.received]
