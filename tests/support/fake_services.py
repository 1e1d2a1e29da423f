"""Stand-in services and the Python gateway on real sockets, shared by the edge tests.

Each fake service is a small Starlette app under uvicorn in a thread; it echoes what it received
(method, path, headers, a digest of the body) and names itself, so a test sees exactly what
crossed an edge in each direction.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.config import GatewaySettings
from gateway.main import create_app
from tests.support.servers import LOOPBACK, free_port, wait_until

PROBLEM_TYPE = "application/problem+json"
MB = 1024 * 1024
UNTRUSTED_SOURCE = "127.0.0.2"  # the gateway trusts 127.0.0.1 only; this address is another peer


@dataclass
class FakeService:
    """A service replica that records what reached it."""

    name: str
    replica: str
    openapi: dict[str, Any] | None = None
    ready: bool = True
    received: list[dict[str, Any]] = field(default_factory=list)
    first_upload_chunk: threading.Event = field(default_factory=threading.Event)
    first_download_chunk_seen: threading.Event = field(default_factory=threading.Event)

    def app(self) -> Starlette:
        async def echo(request: Request) -> Response:
            digest = hashlib.sha256()
            length = 0
            async for chunk in request.stream():
                if chunk and not self.first_upload_chunk.is_set():
                    self.first_upload_chunk.set()
                digest.update(chunk)
                length += len(chunk)
            record = {
                "service": self.name,
                "replica": self.replica,
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": [[name, value] for name, value in request.headers.items()],
                "body_sha256": digest.hexdigest(),
                "body_length": length,
            }
            self.received.append(record)
            if request.url.path.endswith("/missing"):
                return JSONResponse(
                    {"type": "about:blank", "title": "Not found", "status": 404, "code": "not_found"},
                    status_code=404,
                    media_type=PROBLEM_TYPE,
                )
            return JSONResponse(record, headers={"x-request-id": "upstream-would-like-this", "x-replica": self.replica})

        async def slow(request: Request) -> Response:
            self.received.append({"service": self.name, "path": request.url.path})  # it is being answered
            await asyncio.sleep(2)
            return JSONResponse({"slow": True})

        async def download(request: Request) -> Response:
            seen = self.first_download_chunk_seen

            async def chunks() -> Any:
                block = bytes(range(256)) * 256  # 64 KiB
                yield block
                # The rest only once the client has the first block: a gateway that waited for
                # the whole answer before relaying it would never get there.
                assert await asyncio.to_thread(seen.wait, 10), "the client never saw the first block"
                for _ in range(20 * MB // len(block) - 1):
                    yield block

            return StreamingResponse(chunks(), media_type="application/octet-stream")

        async def set_cookie(request: Request) -> Response:
            response = JSONResponse({"ok": True})
            response.set_cookie("sid", "alice-session", httponly=True)
            return response

        async def hop_headers(request: Request) -> Response:
            return Response(
                b"{}",
                media_type="application/json",
                headers={
                    "keep-alive": "timeout=99",
                    "x-upstream-hop": "1",
                    "connection": "x-upstream-hop",
                    "x-kept": "1",
                },
            )

        async def readyz(request: Request) -> Response:
            if self.ready:
                return JSONResponse({"status": "ready"})
            return JSONResponse({"code": "database_unavailable"}, status_code=503)

        async def openapi(request: Request) -> Response:
            if self.openapi is None:
                return JSONResponse({"code": "not_found"}, status_code=404)
            return JSONResponse(self.openapi)

        async def read_only(request: Request) -> Response:
            """A GET-only resource, answering any other method as a Mamori service does."""
            if request.method == "GET":
                return JSONResponse({"service": self.name, "read_only": True})
            problem = {
                "type": "about:blank",
                "title": "Method not allowed",
                "status": 405,
                "code": "method_not_allowed",
            }
            return JSONResponse(problem, status_code=405, media_type=PROBLEM_TYPE, headers={"allow": "GET, HEAD"})

        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        return Starlette(
            routes=[
                Route("/readyz", readyz),
                Route("/openapi.json", openapi),
                Route("/api/orders/slow", slow),
                Route("/api/orders/download", download),
                Route("/api/auth/set-cookie", set_cookie),
                Route("/api/orders/hop-headers", hop_headers),
                Route("/api/auth/read-only", read_only, methods=["GET", "OPTIONS", "TRACE", "DELETE"]),
                Route("/{path:path}", echo, methods=methods),
            ]
        )


class GatewayServer:
    """The gateway under uvicorn as it must be run: with uvicorn's own ``X-Forwarded-*``
    rewriting off (``--no-proxy-headers``), since the gateway decides itself which peers to
    believe; uvicorn's default would trust any local peer's ``X-Forwarded-For``."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.metrics_url = f"http://{LOOPBACK}:{settings.gateway_metrics_port}/metrics"
        config = uvicorn.Config(
            create_app(settings),
            host=LOOPBACK,
            port=self.port,
            proxy_headers=False,
            log_level="warning",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> GatewayServer:
        self._thread.start()
        wait_until(lambda: self._server.started or not self._thread.is_alive(), what="the gateway to start")
        assert self._server.started
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def header(record: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in record["headers"] if key == name]


def document(service: str, operation_id: str, path: str, money: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": f"Mamori {service}", "version": "0.1.0", "description": f"The {service} service."},
        "paths": {
            path: {
                "post": {
                    "operationId": operation_id,
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Money"}}}}
                    },
                }
            },
            "/internal/events": {"post": {"operationId": f"{service}ReceiveEvent", "responses": {}}},
        },
        "components": {"schemas": {"Money": money}},
    }


def gateway_settings(**overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "trusted_proxies": ["127.0.0.1/32"],
        "upstream_read_timeout": 1.0,  # the slow route takes 2 s; under load an echo may take a while
        "health_timeout": 0.5,
        "openapi_retry_seconds": 0.1,
        "access_log": False,
        "gateway_metrics_port": free_port(),
    }
    values.update(overrides)
    return GatewaySettings(**values)
