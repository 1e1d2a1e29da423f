"""The gateway's upstream pool against raw-socket upstreams that misbehave on purpose.

Two defects of the hand-written pool the gateway used to have, each a customer-visible failure:
a response desync (extra bytes from an upstream served as the next customer's answer) and early
answers lost (a service refusing an upload halfway came out as a 502). Each upstream here is a
plain socket server writing exactly the bytes the case needs, which no framework would send.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from gateway.config import GatewaySettings
from tests.support.fake_services import GatewayServer, gateway_settings
from tests.support.servers import LOOPBACK, free_port

Handler = Callable[[socket.socket], None]
UPLOAD_PATH = "/api/verification/cases/c-1/documents"


def read_head(connection: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a full request head")
        data += chunk
    return data.split(b"\r\n\r\n", 1)[0]


@contextmanager
def raw_upstream(handler: Handler) -> Iterator[str]:
    """A threaded TCP server calling ``handler`` with each accepted connection."""

    class Handle(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            try:
                handler(self.request)
            except OSError:
                return  # the gateway went away: nothing more to serve

    server = socketserver.ThreadingTCPServer((LOOPBACK, free_port()), Handle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def gateway_for(upstream: str, service: str) -> GatewaySettings:
    return gateway_settings(**{f"{service}_upstreams": [upstream]})


def answer(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def test_extra_bytes_from_an_upstream_never_become_the_next_customers_answer() -> None:
    def handler(connection: socket.socket) -> None:
        first = True
        while True:
            head = read_head(connection)
            owner = head.split(b" ")[1].rsplit(b"/", 1)[1]  # /api/orders/<customer>
            reply = answer(owner)
            if first:  # a buggy upstream: a second, unasked-for answer right behind the first
                reply += answer(b"alice-private-data")
                first = False
            connection.sendall(reply)

    with raw_upstream(handler) as upstream, GatewayServer(gateway_for(upstream, "orders")) as gateway:
        with httpx.Client(base_url=gateway.url) as alice, httpx.Client(base_url=gateway.url) as bob:
            assert alice.get("/api/orders/alice").text == "alice"
            answers = [bob.get("/api/orders/bob").text for _ in range(3)]
    assert answers == ["bob", "bob", "bob"]


def test_a_service_refusing_an_upload_halfway_is_heard_not_turned_into_a_502() -> None:
    refusal = json.dumps(
        {"type": "about:blank", "title": "Too large", "status": 413, "code": "unsupported_file"}
    ).encode()

    def handler(connection: socket.socket) -> None:
        read_head(connection)
        connection.recv(4096)  # a little of the body, then the service has seen enough
        connection.sendall(
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/problem+json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(refusal), refusal)
        )
        # It stops reading: the rest of the upload piles up until the gateway gives up on it.
        threading.Event().wait(3)

    with raw_upstream(handler) as upstream, GatewayServer(gateway_for(upstream, "verification")) as gateway:
        host, port = gateway.url.removeprefix("http://").split(":")
        length = 8 * 1024 * 1024
        with socket.create_connection((host, int(port)), timeout=10) as client:
            client.sendall(
                f"POST {UPLOAD_PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/png\r\n"
                f"Content-Length: {length}\r\n\r\n".encode()
            )
            client.sendall(b"\x89PNG" + b"x" * 256 * 1024)  # a quarter of a megabyte, then wait
            received = b""
            while b"\r\n\r\n" not in received or not received.endswith(b"}"):
                chunk = client.recv(65536)
                if not chunk:
                    break
                received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert json.loads(body)["code"] == "unsupported_file"
