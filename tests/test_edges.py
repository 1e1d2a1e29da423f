"""Both edges, nginx and the Python gateway, made from one route table, give the same answers.

One table of requests (routing, internal refusal, malformed paths, headers, client address,
oversize bodies, an upstream that is down, the gateway's own pages) goes through each edge in
front of the same stand-in services; every answer, and what reached the service, must match.
Requests are written on raw sockets, so no client tidies a path on the way. The nginx half needs
nginx installed (Debian: ``/usr/sbin/nginx``) and is skipped, with that reason, without it.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gateway.nginx import GATEWAY_GROUP, EdgeLayout, host_port
from infra.edge import find_nginx, nginx_command, run_as, write_config
from mamori_common.front_door import UPLOAD_BODY_LIMIT
from tests.support.fake_services import PROBLEM_TYPE, UNTRUSTED_SOURCE, FakeService, GatewayServer, gateway_settings
from tests.support.servers import LOOPBACK, ServerThread, free_port, wait_until

TRUSTED_SOURCE = LOOPBACK
HOST = "shop.example"
UPLOAD_PATH = "/api/verification/cases/c-1/documents"
#: The portal's case page posts a statement here (to the portal, which sends it on).
PORTAL_UPLOAD_PATH = "/cases/c-1/documents"
MINTED_ID = re.compile(r"^[0-9a-f]{32}$")
#: Response headers both edges must set alike (Server and Date are each server's own).
COMPARED_HEADERS = (
    "content-type",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "permissions-policy",
    "cross-origin-opener-policy",
    "strict-transport-security",
    "retry-after",
    "allow",
)
#: What a service saw, compared between the edges.
FORWARDED_HEADERS = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "forwarded", "cookie")


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    source: str = TRUSTED_SOURCE
    #: A Content-Length to declare instead of the body's own (an oversize body never sent).
    declared_length: int | None = None
    expect_status: int = 200


CASES = [
    # routing: each prefix to its service, path and query unchanged; whole segments only
    Case("auth", "GET", "/api/auth/me?q=a+b&n=1"),
    Case("verification", "GET", "/api/verification/cases/42"),
    Case("portal root", "GET", "/"),
    Case("portal page", "GET", "/account/orders"),
    Case("not a prefix", "GET", "/api/authority"),
    Case("service problem passes through", "GET", "/api/auth/missing", expect_status=404),
    # refused at the edge, however written
    Case("internal", "POST", "/internal/events", expect_status=404),
    Case("internal encoded", "POST", "/%69nternal/events", expect_status=404),
    Case("internal capitals", "POST", "/Internal/events", expect_status=404),
    Case("internal slashes", "POST", "//internal/events", expect_status=404),
    Case("metrics", "GET", "/metrics", expect_status=404),
    Case("metrics capitals", "GET", "/METRICS", expect_status=404),
    # malformed paths, refused before routing
    Case("dot segments", "GET", "/api/orders/../../internal/events", expect_status=400),
    Case("encoded dot segments", "GET", "/api/auth/%2e%2e/internal", expect_status=400),
    Case("encoded backslash", "GET", "/api/auth/a%5Cb", expect_status=400),
    # a full card number in the target: refused before it is logged or forwarded, however written
    Case("card number in the path", "GET", "/api/orders/orders/4556737586899855", expect_status=422),
    Case("card number in the query", "GET", "/api/auth/me?cursor=4556%207375%208689%209855", expect_status=422),
    Case(
        "card number, full-width",
        "GET",
        "/api/auth/%EF%BC%94%EF%BC%95%EF%BC%95%EF%BC%96%EF%BC%97%EF%BC%93%EF%BC%97%EF%BC%95%EF%BC%98%EF%BC%96%EF%BC%98%EF%BC%99%EF%BC%99%EF%BC%98%EF%BC%95%EF%BC%95",
        expect_status=422,
    ),
    Case("card number, commas", "GET", "/api/auth/me?n=4556,7375,8689,9855", expect_status=422),
    Case(
        "card number in the query of an oversize body",
        "POST",
        "/api/orders/orders?note=4556737586899855",
        declared_length=70_000,
        expect_status=422,
    ),
    Case("an id of hex digits with 14 decimals in a row", "GET", "/api/auth/orders/aa99895002734292bd756a128984b9e6"),
    Case(
        "an id of hex digits holding a card number's digits", "GET", "/api/auth/orders/ab4556737586899855cdef01234567ab"
    ),
    # headers and the client address
    Case(
        "trusted proxy's headers believed",
        "GET",
        "/api/auth/me",
        headers=(
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Request-ID", "balancer-id-0001"),
            ("X-Forwarded-Host", "www.shop.example"),
            ("X-Real-IP", "203.0.113.7"),
        ),
    ),
    Case(
        "untrusted peer's headers dropped",
        "GET",
        "/api/auth/me",
        headers=(
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Request-ID", "attacker-id-0001"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Real-IP", "203.0.113.7"),
            ("Forwarded", "for=203.0.113.7"),
        ),
        source=UNTRUSTED_SOURCE,
    ),
    Case("malformed request id replaced", "GET", "/api/auth/me", headers=(("X-Request-ID", "no spaces allowed"),)),
    Case("cookies go to the service", "GET", "/api/auth/me", headers=(("Cookie", "sid=abc"),)),
    # body limits from the route table
    Case("small JSON", "POST", "/api/auth/login", headers=(("Content-Type", "application/json"),), body=b'{"a": 1}'),
    Case("oversize JSON", "POST", "/api/auth/login", declared_length=70_000, expect_status=413),
    Case("upload within its limit", "POST", UPLOAD_PATH, body=b"\x89PNG" + b"x" * 200_000),
    Case("oversize upload", "POST", UPLOAD_PATH, declared_length=UPLOAD_BODY_LIMIT + 1, expect_status=413),
    Case(
        "a 2 MB photo from the portal's case page", "POST", PORTAL_UPLOAD_PATH, body=b"\xff\xd8\xff" + b"p" * 2_000_000
    ),
    Case(
        "an 11 MB file from the portal's case page gets a page, not JSON",
        "POST",
        PORTAL_UPLOAD_PATH,
        headers=(("Accept", "text/html"),),
        declared_length=11 * 1024 * 1024,
        expect_status=413,
    ),
    Case("other portal forms keep the small limit", "POST", "/signin", declared_length=70_000, expect_status=413),
    Case(
        "a pasted mail may exceed 64 KB",
        "POST",
        "/api/auth/messages/verify",
        body=b'{"text": "' + b"m" * 150_000 + b'"}',
    ),
    Case("but not 1 MB", "POST", "/api/auth/messages/verify", declared_length=1024 * 1024 + 1, expect_status=413),
    # a method the path does not take: the service's 405 problem with its Allow, at both edges
    # (nginx answers TRACE itself before any location; it must still be the service's answer)
    Case("TRACE on a read-only path", "TRACE", "/api/auth/read-only", expect_status=405),
    Case("DELETE on a read-only path", "DELETE", "/api/auth/read-only", expect_status=405),
    Case("TRACE on a refused path", "TRACE", "/internal/events", expect_status=404),
    Case("TRACE with dot segments", "TRACE", "/api/auth/%2e%2e/internal", expect_status=400),
    # an upstream that is down
    Case("service down", "GET", "/api/orders/1", expect_status=502),
    Case("service down, upload", "POST", "/api/orders", body=b'{"sku": "x"}', expect_status=502),
    # the gateway app's own pages, behind either edge
    Case("aggregated health names the service that is down", "GET", "/healthz", expect_status=503),
    Case("merged OpenAPI", "GET", "/openapi.json"),
    Case("API docs", "GET", "/docs"),
]


@dataclass
class Answer:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return ", ".join(values) if values else None


def exchange(port: int, case: Case) -> Answer:
    """Send ``case`` as written, on a fresh connection from ``case.source``; read the answer."""
    length = case.declared_length if case.declared_length is not None else len(case.body)
    lines = [f"{case.method} {case.target} HTTP/1.1", f"Host: {HOST}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in case.headers]
    if length or case.method == "POST":
        lines.append(f"Content-Length: {length}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + (case.body if case.declared_length is None else b"")
    with socket.create_connection((LOOPBACK, port), timeout=10, source_address=(case.source, 0)) as connection:
        connection.sendall(raw)
        return _read_answer(connection)


def _read_answer(connection: socket.socket) -> Answer:
    """One answer, read as far as its framing says (a server may linger before closing)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    chunked = "chunked" in ",".join(headers.get("transfer-encoding", []))
    length = int(headers["content-length"][0]) if "content-length" in headers else None
    while True:
        if length is not None and len(body) >= length:
            break
        if chunked and body.endswith(b"0\r\n\r\n"):
            break
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return Answer(int(lines[0].split()[1]), headers, _unchunk(body) if chunked else body)


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def observed(case: Case, answer: Answer) -> dict[str, Any]:
    """What a client and the service saw, with each edge's own incidentals (its port, a freshly
    minted id, its Server header) reduced to what they must have in common."""
    sent_id = dict(case.headers).get("X-Request-ID")
    request_id = answer.header("x-request-id") or ""
    seen: dict[str, Any] = {
        "status": answer.status,
        "request id": "kept" if request_id == sent_id else "minted" if MINTED_ID.match(request_id) else request_id,
        "headers": {name: answer.header(name) for name in COMPARED_HEADERS},
        "csp": (answer.header("content-security-policy") or "").split(";")[0:2],
    }
    if answer.header("content-type") == PROBLEM_TYPE:
        problem = json.loads(answer.body)
        seen["problem"] = {key: problem.get(key) for key in ("status", "code", "title")}
        if case.target == "/healthz":
            seen["problem"]["down"] = problem.get("down")
    elif (answer.header("content-type") or "").startswith("text/html") and answer.status == 413:
        seen["page says the limit"] = (
            "10 MB" in answer.body.decode() and "ファイルが大きすぎます" in answer.body.decode()
        )
    elif case.target in ("/openapi.json", "/docs"):
        seen["body starts"] = answer.body[:15]
    else:
        record = json.loads(answer.body)
        headers: dict[str, list[str]] = {}
        for name, value in record["headers"]:
            headers.setdefault(name, []).append(value)
        seen["service saw"] = {
            "service": record["service"],
            "path": record["path"],
            "query": record["query"],
            "body_length": record["body_length"],
            **{name: headers.get(name) for name in FORWARDED_HEADERS},
            "same request id": headers.get("x-request-id") == [request_id],
        }
    return seen


@dataclass
class Edges:
    python_port: int
    nginx_port: int | None
    services: list[FakeService] = field(default_factory=list)
    #: nginx's error log (it quotes request lines: it must never hold a card number).
    nginx_error_log: Path | None = None


@pytest.fixture(scope="module")
def edges() -> Iterator[Edges]:
    """auth, verification and the portal up, orders down, behind both edges."""
    fakes = {name: FakeService(name, f"{name}-1", {"openapi": "3.1.0", "info": {"title": name, "version": "1"}, "paths": {}})
             for name in ("auth", "verification", "portal")}  # fmt: skip
    servers = {name: ServerThread(fake.app()).start() for name, fake in fakes.items()}
    upstreams = {name: [server.url] for name, server in servers.items()} | {
        "orders": [f"http://{LOOPBACK}:{free_port()}"]
    }
    settings = gateway_settings(
        trusted_proxies=[f"{TRUSTED_SOURCE}/32"], **{f"{name}_upstreams": urls for name, urls in upstreams.items()}
    )
    nginx = find_nginx()
    try:
        with GatewayServer(settings) as gateway, tempfile.TemporaryDirectory(prefix="mamori-edge-") as runtime:
            gateway_port = int(gateway.url.rsplit(":", 1)[1])
            if nginx is None:
                yield Edges(gateway_port, None, list(fakes.values()))
                return
            nginx_port = free_port()
            layout = EdgeLayout(
                listen=f"{LOOPBACK}:{nginx_port}",
                upstreams={name: [host_port(url) for url in urls] for name, urls in upstreams.items()}
                | {GATEWAY_GROUP: [host_port(gateway.url)]},
                trusted_proxies=[f"{TRUSTED_SOURCE}/32"],
                runtime_dir=runtime,
                error_log=str(Path(runtime) / "error.log"),
                workers="1",
                run_as=run_as(),
            )
            process = subprocess.Popen(nginx_command(nginx, write_config(layout)), start_new_session=True)
            try:
                wait_until(lambda: _accepts(nginx_port) or process.poll() is not None, what="nginx to listen")
                assert process.poll() is None, (Path(runtime) / "startup-error.log").read_text()
                yield Edges(gateway_port, nginx_port, list(fakes.values()), Path(runtime) / "error.log")
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(10)
    finally:
        for server in servers.values():
            server.stop()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_both_edges_answer_alike(edges: Edges, case: Case) -> None:
    python = exchange(edges.python_port, case)
    assert python.status == case.expect_status, python.body[:500]
    if edges.nginx_port is None:
        pytest.skip("nginx is not installed (looked on PATH and in /usr/sbin): only the Python gateway was checked")
    nginx = exchange(edges.nginx_port, case)
    assert observed(case, nginx) == observed(case, python)


def test_refused_and_oversize_requests_never_reach_a_service(edges: Edges) -> None:
    for service in edges.services:
        service.received.clear()
    refused = [
        case for case in CASES if case.expect_status in (400, 404, 413, 422) and case.target != "/api/auth/missing"
    ]
    for case in refused:
        exchange(edges.python_port, case)
        if edges.nginx_port is not None:
            exchange(edges.nginx_port, case)
    assert [record["path"] for service in edges.services for record in service.received] == []


def test_nginx_logs_no_card_number_sent_in_a_target(edges: Edges) -> None:
    """A lost upstream (orders is down here) and a refused oversize body make nginx write the
    request line to its error log: a target with a card number never gets that far."""
    if edges.nginx_port is None or edges.nginx_error_log is None:
        pytest.skip("nginx is not installed (looked on PATH and in /usr/sbin)")
    for case in [case for case in CASES if case.name.startswith("card number")]:
        exchange(edges.nginx_port, case)
    exchange(edges.nginx_port, Case("orders down", "GET", "/api/orders/orders/o-1", expect_status=502))
    logged = edges.nginx_error_log.read_text() if edges.nginx_error_log.exists() else ""
    assert "/api/orders/orders/o-1" in logged, "the lost upstream was logged with its request line"
    for digits in ("4556737586899855", "4556 7375", "4556%207375", "4556,7375", "%EF%BC%94%EF%BC%95"):
        assert digits not in logged


def test_nginx_turns_a_flood_of_sign_ins_from_one_address_away_with_a_problem(edges: Edges) -> None:
    """The coarse per-address limit on the sign-in paths (the Python gateway leaves all of it to
    auth). Sixty requests pipelined on one connection arrive faster than any burst allows."""
    if edges.nginx_port is None:
        pytest.skip("nginx is not installed (looked on PATH and in /usr/sbin)")
    body = b'{"email": "a@example.com", "password": "x"}'
    one = (f"POST /api/auth/login HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip
    last = one.replace(b"Content-Type", b"Connection: close\r\nContent-Type")
    with socket.create_connection((LOOPBACK, edges.nginx_port), timeout=10) as connection:
        connection.sendall(one * 59 + last)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    statuses = re.findall(rb"HTTP/1.1 (\d{3})", data)
    assert b"200" in statuses and b"429" in statuses, statuses
    refusal = data[data.index(b"HTTP/1.1 429") :]
    head, _, rest = refusal.partition(b"\r\n\r\n")
    assert b"retry-after: 1" in head.lower() and b"content-type: application/problem+json" in head.lower()
    declared = re.search(rb"(?i)content-length: (\d+)", head)
    assert declared is not None, head
    length = int(declared.group(1))
    assert json.loads(rest[:length])["code"] == "rate_limited"
