"""The Python gateway in front of real upstream servers (tests/support/fake_services.py), over
real sockets. What both edges must answer alike is in tests/test_edges.py."""

from __future__ import annotations

import hashlib
import itertools
import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.main import create_app
from mamori_common.front_door import UPLOAD_BODY_LIMIT
from tests.support.fake_services import (
    MB,
    PROBLEM_TYPE,
    UNTRUSTED_SOURCE,
    FakeService,
    GatewayServer,
    document,
    gateway_settings,
    header,
)
from tests.support.servers import ServerThread, free_port, wait_until


@dataclass
class Deployment:
    url: str
    metrics_url: str
    services: dict[str, list[FakeService]]
    servers: list[ServerThread]

    def all_received(self) -> list[dict[str, Any]]:
        return [record for replicas in self.services.values() for service in replicas for record in service.received]

    def clear(self) -> None:
        for replicas in self.services.values():
            for service in replicas:
                service.received.clear()


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    """auth, verification, two orders replicas and the portal, behind one gateway."""
    services = {
        "auth": [FakeService("auth", "auth-1", document("auth", "login", "/api/auth/login", {"type": "integer"}))],
        "verification": [FakeService("verification", "verification-1", document("verification", "getCase", "/api/verification/cases", {"type": "integer"}))],
        "orders": [
            FakeService("orders", "orders-a", document("orders", "placeOrder", "/api/orders", {"type": "object", "properties": {"currency": {"type": "string"}}})),
            FakeService("orders", "orders-b", document("orders", "placeOrder", "/api/orders", {"type": "object", "properties": {"currency": {"type": "string"}}})),
        ],
        "portal": [FakeService("portal", "portal-1", {"openapi": "3.1.0", "info": {"title": "portal", "version": "1"}, "paths": {}})],
    }  # fmt: skip
    servers: list[ServerThread] = []
    upstreams: dict[str, list[str]] = {}
    try:
        for name, replicas in services.items():
            for service in replicas:
                servers.append(ServerThread(service.app()).start())
                upstreams.setdefault(f"{name}_upstreams", []).append(servers[-1].url)
        with GatewayServer(gateway_settings(**upstreams)) as gateway:
            yield Deployment(gateway.url, gateway.metrics_url, services, servers)
    finally:
        for server in reversed(servers):
            server.stop()


@pytest.fixture
def client(deployment: Deployment) -> Iterator[httpx.Client]:
    deployment.clear()
    with httpx.Client(base_url=deployment.url, timeout=10) as client:
        yield client


@pytest.fixture
def untrusted_client(deployment: Deployment) -> Iterator[httpx.Client]:
    transport = httpx.HTTPTransport(local_address=UNTRUSTED_SOURCE)
    with httpx.Client(base_url=deployment.url, timeout=10, transport=transport) as client:
        yield client


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_TYPE
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert {"type", "title"} <= set(body)
    return body


# --- routing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/auth/login", "auth"),
        ("/api/verification/cases/42", "verification"),
        ("/api/orders/7", "orders"),
        ("/", "portal"),
        ("/account/orders", "portal"),
        ("/api/authority", "portal"),
    ],
)
def test_each_prefix_reaches_its_service_with_the_path_unchanged(client: httpx.Client, path: str, service: str) -> None:
    response = client.get(path, params={"q": "a b", "n": "1"})
    assert response.status_code == 200
    record = response.json()
    assert record["service"] == service
    assert record["path"] == path
    assert record["query"] == "q=a+b&n=1"


def test_upstream_answers_pass_through_status_and_body(client: httpx.Client) -> None:
    response = client.get("/api/orders/missing")
    assert_problem(response, 404, "not_found")


def test_head_request_and_reuse_of_the_connection_after_it(client: httpx.Client) -> None:
    head = client.head("/api/orders/1")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 0
    for _ in range(4):  # the pooled connection HEAD used must still frame answers correctly
        assert client.get("/api/orders/2").json()["path"] == "/api/orders/2"


def test_internal_paths_and_metrics_are_never_forwarded(client: httpx.Client, deployment: Deployment) -> None:
    for path in ("/internal/events", "/%69nternal/events", "/Internal/events", "/metrics", "/METRICS"):
        assert_problem(client.post(path, json={"id": "x"}), 404, "not_found")
    assert deployment.all_received() == []
    raw_request(deployment.url, "POST //internal/events HTTP/1.1")  # uvicorn reads "//internal" as a host
    assert not [record for record in deployment.all_received() if "internal" in record["path"].lower()]


def raw_request(url: str, request_line: str) -> tuple[int, dict[str, str], bytes]:
    """Send one request exactly as written (no client-side path normalisation)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(f"{request_line}\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_dot_segments_are_refused_before_routing(deployment: Deployment) -> None:
    deployment.clear()
    status, headers, body = raw_request(deployment.url, "GET /api/orders/../../internal/events HTTP/1.1")
    assert status == 400
    assert headers["content-type"] == PROBLEM_TYPE
    assert json.loads(body)["code"] == "malformed_path"
    assert deployment.all_received() == []


def test_gateway_routes_answer_unknown_methods_with_problems(client: httpx.Client) -> None:
    assert_problem(client.post("/healthz"), 405, "method_not_allowed")


# --- streaming ----------------------------------------------------------------------------------


UPLOAD_PATH = "/api/verification/cases/c-1/documents"


def test_large_upload_is_streamed_to_the_upstream_not_buffered(client: httpx.Client, deployment: Deployment) -> None:
    for replica in deployment.services["verification"]:
        replica.first_upload_chunk.clear()
    block = bytes(range(256)) * 4096  # 1 MiB
    total = 9  # under the upload path's 10 MB
    digest = hashlib.sha256()
    reached_upstream_midway: list[bool] = []

    def body() -> Iterator[bytes]:
        for index in range(total):
            if index == total // 2:
                # Half the body is sent: a streaming gateway has passed some of it on by now;
                # one that buffers the whole upload has not, and never will before we finish.
                reached_upstream_midway.append(
                    wait_for_any(
                        deployment.services["verification"], lambda replica: replica.first_upload_chunk.is_set()
                    )
                )
            digest.update(block)
            yield block

    response = client.post(UPLOAD_PATH, content=body(), headers={"content-length": str(total * len(block))})
    assert response.status_code == 200
    record = response.json()
    assert record["body_length"] == total * len(block)
    assert record["body_sha256"] == digest.hexdigest()
    assert header(record, "content-length") == [str(total * len(block))]
    assert reached_upstream_midway == [True]


def wait_for_any(replicas: list[FakeService], predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(predicate(replica) for replica in replicas):
            return True
        time.sleep(0.01)
    return False


def test_chunked_upload_without_length_arrives_intact(client: httpx.Client) -> None:
    chunks = [b"a" * 1000, b"b" * 70000, b"c"]
    response = client.put(UPLOAD_PATH, content=iter(chunks))
    record = response.json()
    assert record["body_length"] == 71001
    assert record["body_sha256"] == hashlib.sha256(b"".join(chunks)).hexdigest()


def test_large_download_is_relayed_as_it_arrives(client: httpx.Client, deployment: Deployment) -> None:
    for replica in deployment.services["orders"]:
        replica.first_download_chunk_seen.clear()
    expected = hashlib.sha256()
    block = bytes(range(256)) * 256
    for _ in range(20 * MB // len(block)):
        expected.update(block)
    digest = hashlib.sha256()
    received = 0
    with client.stream("GET", "/api/orders/download") as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            if received == 0:
                for replica in deployment.services["orders"]:
                    replica.first_download_chunk_seen.set()
            digest.update(chunk)
            received += len(chunk)
    assert received == 20 * MB
    assert digest.hexdigest() == expected.hexdigest()


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_its_routes_limit_is_refused_before_the_service_reads_it(
    client: httpx.Client, deployment: Deployment, chunked: bool
) -> None:
    oversize = b'{"email": "' + b"a" * 70_000 + b'"}'  # JSON paths take 64 KB
    content = iter([oversize[:1000], oversize[1000:]]) if chunked else oversize
    assert_problem(client.post("/api/auth/login", content=content), 413, "body_too_large")
    assert [record for record in deployment.all_received() if record["path"] == "/api/auth/login"] == []
    upload = b"x" * (UPLOAD_BODY_LIMIT + 1)  # the upload path takes a 10 MB file and its multipart envelope
    assert_problem(client.post(UPLOAD_PATH, content=upload), 413, "body_too_large")


# --- failures -----------------------------------------------------------------------------------


@pytest.fixture
def dead_port() -> int:
    return free_port()


def test_refused_connection_is_a_502_problem(dead_port: int) -> None:
    settings = gateway_settings(orders_upstreams=[f"http://127.0.0.1:{dead_port}"])
    with GatewayServer(settings) as gateway, httpx.Client(base_url=gateway.url) as client:
        assert_problem(client.get("/api/orders/1"), 502, "service_unavailable")
        body = assert_problem(client.post("/api/orders", json={"sku": "x"}), 502, "service_unavailable")
        assert "orders" in body["detail"]


def test_slow_upstream_is_a_504_problem(client: httpx.Client) -> None:
    started = time.monotonic()
    assert_problem(client.get("/api/orders/slow"), 504, "gateway_timeout")
    assert time.monotonic() - started < 1.9  # the gateway's read timeout (1 s), not the upstream's 2 s


def test_when_every_connection_to_a_service_is_taken_the_next_request_gets_a_503() -> None:
    orders = FakeService("orders", "orders-1")
    with ServerThread(orders.app()) as upstream:
        settings = gateway_settings(
            orders_upstreams=[upstream.url],
            upstream_max_connections=1,
            upstream_pool_timeout=0.1,
            upstream_read_timeout=1.5,
        )
        with GatewayServer(settings) as gateway, httpx.Client(base_url=gateway.url, timeout=10) as client:
            with ThreadPoolExecutor(1) as pool:
                slow = pool.submit(client.get, "/api/orders/slow")  # holds the one connection
                wait_until(lambda: orders.received, what="the slow request to reach the service")
                busy = client.get("/api/orders/1")
                assert_problem(busy, 503, "gateway_busy")
                assert busy.headers["retry-after"] == "1"
                slow.result()


# --- replicas -----------------------------------------------------------------------------------


def test_requests_are_spread_round_robin_over_replicas() -> None:
    a, b = FakeService("orders", "orders-a"), FakeService("orders", "orders-b")
    with ServerThread(a.app()) as first, ServerThread(b.app()) as second:
        settings = gateway_settings(orders_upstreams=[first.url, second.url])
        with GatewayServer(settings) as gateway, httpx.Client(base_url=gateway.url) as client:
            answers = [client.get(f"/api/orders/{index}") for index in range(6)]
    assert [answer.status_code for answer in answers] == [200] * 6, [answer.text for answer in answers]
    replicas = [answer.json()["replica"] for answer in answers]
    assert sorted(set(replicas)) == ["orders-a", "orders-b"]
    assert all(first != second for first, second in itertools.pairwise(replicas))


def test_a_refusing_replica_is_skipped_and_requests_retried(dead_port: int) -> None:
    live = FakeService("orders", "orders-live")
    with ServerThread(live.app()) as upstream:
        settings = gateway_settings(orders_upstreams=[f"http://127.0.0.1:{dead_port}", upstream.url])
        with GatewayServer(settings) as gateway, httpx.Client(base_url=gateway.url) as client:
            for index in range(6):
                response = client.get(f"/api/orders/{index}")
                assert response.status_code == 200 and response.json()["replica"] == "orders-live"
            upload = client.post("/api/orders", content=b"x" * 5000)  # refused before any byte was read
            assert upload.status_code == 200 and upload.json()["body_length"] == 5000
            metrics = httpx.get(gateway.metrics_url).text
    # Passive health: the dead replica refused once, then was passed over for its cool-down.
    assert 'mamori_gateway_upstream_failures_total{reason="refused",service="orders"} 1.0' in metrics
    assert len(live.received) == 7


# --- request id, client address, headers --------------------------------------------------------


def test_request_id_is_minted_passed_upstream_and_returned(client: httpx.Client) -> None:
    response = client.get("/api/orders/1")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    assert header(response.json(), "x-request-id") == [request_id]
    assert response.headers.get_list("x-request-id") == [request_id]  # the upstream's own is replaced
    assert client.get("/api/orders/1").headers["x-request-id"] != request_id


def test_request_id_from_a_trusted_proxy_is_kept(client: httpx.Client) -> None:
    response = client.get("/api/orders/1", headers={"x-request-id": "balancer-id-0001"})
    assert response.headers["x-request-id"] == "balancer-id-0001"
    assert header(response.json(), "x-request-id") == ["balancer-id-0001"]
    malformed = client.get("/api/orders/1", headers={"x-request-id": "no spaces allowed"})
    assert malformed.headers["x-request-id"] != "no spaces allowed"


def test_request_id_from_an_untrusted_peer_is_replaced(untrusted_client: httpx.Client) -> None:
    response = untrusted_client.get("/api/orders/1", headers={"x-request-id": "attacker-chosen-id"})
    assert response.headers["x-request-id"] != "attacker-chosen-id"
    assert header(response.json(), "x-request-id") == [response.headers["x-request-id"]]


def test_forwarded_for_from_an_untrusted_peer_is_ignored(untrusted_client: httpx.Client) -> None:
    record = untrusted_client.get(
        "/api/auth/me",
        headers={
            "x-forwarded-for": "1.2.3.4",
            "x-forwarded-proto": "https",
            "x-real-ip": "1.2.3.4",
            "x-forwarded-host": "evil",
        },
    ).json()
    assert header(record, "x-forwarded-for") == [UNTRUSTED_SOURCE]
    assert header(record, "x-forwarded-proto") == ["http"]
    assert header(record, "x-real-ip") == []
    assert header(record, "x-forwarded-host") == [untrusted_client.base_url.netloc.decode()]


def test_forwarded_for_from_a_trusted_proxy_is_extended(client: httpx.Client) -> None:
    record = client.get(
        "/api/auth/me", headers={"x-forwarded-for": "1.2.3.4", "x-forwarded-host": "shop.example"}
    ).json()
    assert header(record, "x-forwarded-for") == ["1.2.3.4, 127.0.0.1"]
    assert header(record, "x-forwarded-host") == ["shop.example"]


def test_hop_by_hop_headers_are_not_forwarded_either_way(client: httpx.Client) -> None:
    record = client.get(
        "/api/orders/1",
        headers={"connection": "keep-alive, x-client-hop", "x-client-hop": "1", "keep-alive": "timeout=5", "proxy-authorization": "Basic eA==", "x-kept": "1"},
    ).json()  # fmt: skip
    names = {name for name, _ in record["headers"]}
    assert not names & {"x-client-hop", "keep-alive", "proxy-authorization"}
    assert "x-kept" in names
    response = client.get("/api/orders/hop-headers")
    assert "x-upstream-hop" not in response.headers and "keep-alive" not in response.headers
    assert response.headers["x-kept"] == "1"


def test_the_gateway_adds_no_headers_of_its_own_to_the_request(client: httpx.Client) -> None:
    record = client.get("/api/orders/1", headers={"accept-encoding": "identity", "user-agent": "mamori-test/1"}).json()
    assert header(record, "accept-encoding") == ["identity"]  # not httpx's "gzip, deflate"
    assert header(record, "user-agent") == ["mamori-test/1"]


def test_a_bare_request_reaches_the_service_as_bare(deployment: Deployment) -> None:
    """No Accept, Accept-Encoding, User-Agent or Content-Type of the gateway's own, body or not."""
    deployment.clear()
    host, port = deployment.url.removeprefix("http://").split(":")
    for head, body in ((b"GET /api/orders/1 HTTP/1.1", b""), (b"POST /api/orders/1 HTTP/1.1", b"plain")):
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            request = head + b"\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n"
            connection.sendall(request + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            assert connection.recv(65536).startswith(b"HTTP/1.1 200")
    received = deployment.all_received()  # from both orders replicas, in no particular order
    assert sorted((record["method"], record["body_length"]) for record in received) == [("GET", 0), ("POST", 5)]
    for record in received:
        names = {name for name, _ in record["headers"]}
        assert not names & {"accept", "accept-encoding", "user-agent", "content-type"}, record["headers"]


def test_one_users_cookies_never_reach_another_users_request(deployment: Deployment) -> None:
    with httpx.Client(base_url=deployment.url) as alice, httpx.Client(base_url=deployment.url) as bob:
        assert "alice-session" in alice.get("/api/auth/set-cookie").headers["set-cookie"]
        record = bob.get("/api/auth/me").json()
    assert header(record, "cookie") == []


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
}


@pytest.mark.parametrize("path", ["/api/orders/1", "/internal/events", "/healthz", "/api/orders/missing"])
def test_security_headers_on_every_answer(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "cdn.jsdelivr.net" not in csp
    assert "strict-transport-security" not in response.headers


def test_hsts_only_when_a_trusted_proxy_says_https(client: httpx.Client, untrusted_client: httpx.Client) -> None:
    trusted = client.get("/api/orders/1", headers={"x-forwarded-proto": "https"})
    assert trusted.headers["strict-transport-security"].startswith("max-age=")
    assert header(trusted.json(), "x-forwarded-proto") == ["https"]
    untrusted = untrusted_client.get("/api/orders/1", headers={"x-forwarded-proto": "https"})
    assert "strict-transport-security" not in untrusted.headers


def test_docs_page_loads_swagger_ui_under_its_own_policy(client: httpx.Client) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text and "/openapi.json" in response.text
    csp = response.headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in csp and "'sha256-" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]


# --- merged OpenAPI -----------------------------------------------------------------------------


def test_openapi_merges_every_service(client: httpx.Client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    merged = response.json()
    assert merged["openapi"].startswith("3.1")
    operation_ids = {
        operation["operationId"]
        for item in merged["paths"].values()
        for operation in item.values()
        if "operationId" in operation
    }
    assert operation_ids == {"login", "getCase", "placeOrder"}
    schemas = merged["components"]["schemas"]
    # auth and verification agree on Money; orders' differs, so every copy is named for its service.
    assert {"auth_Money", "verification_Money", "orders_Money"} <= set(schemas)
    assert "Money" not in schemas
    ref = merged["paths"]["/api/orders"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/orders_Money"
    assert "/internal/events" not in merged["paths"]
    assert [tag["name"] for tag in merged["tags"]][:4] == ["auth", "verification", "orders", "portal"]
    assert "x-mamori-missing-services" not in merged


def test_openapi_serves_what_is_there_and_picks_up_a_service_that_comes_back() -> None:
    auth = FakeService("auth", "auth-1", document("auth", "login", "/api/auth/login", {"type": "integer"}))
    orders = FakeService("orders", "orders-1", document("orders", "placeOrder", "/api/orders", {"type": "integer"}))
    orders_port = free_port()
    with ServerThread(auth.app()) as auth_server:
        settings = gateway_settings(
            auth_upstreams=[auth_server.url],
            orders_upstreams=[f"http://127.0.0.1:{orders_port}"],
            verification_upstreams=[f"http://127.0.0.1:{free_port()}"],
            portal_upstreams=[f"http://127.0.0.1:{free_port()}"],
        )
        with GatewayServer(settings) as gateway, httpx.Client(base_url=gateway.url) as client:
            first = client.get("/openapi.json").json()
            assert first["x-mamori-missing-services"] == ["verification", "orders", "portal"]
            assert "/api/auth/login" in first["paths"]
            with ServerThread(orders.app(), port=orders_port):
                merged = wait_until(
                    lambda: (
                        (doc := client.get("/openapi.json").json())["x-mamori-missing-services"]
                        == ["verification", "portal"]
                        and doc
                    ),
                    timeout=5,
                    what="orders to appear in the merged document",
                )
            assert merged["paths"]["/api/orders"]["post"]["operationId"] == "placeOrder"


# --- health -------------------------------------------------------------------------------------


def test_healthz_is_ok_when_every_service_is_up(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: service["status"] for name, service in body["services"].items()} == {
        "auth": "up",
        "verification": "up",
        "orders": "up",
        "portal": "up",
    }
    assert [replica["status"] for replica in body["services"]["orders"]["replicas"]] == ["up", "up"]


def test_healthz_names_the_services_that_are_down(dead_port: int) -> None:
    auth, orders, portal = FakeService("auth", "a"), FakeService("orders", "o"), FakeService("portal", "p")
    not_ready = FakeService("orders", "o2", ready=False)
    with (
        ServerThread(auth.app()) as a,
        ServerThread(orders.app()) as o,
        ServerThread(not_ready.app()) as o2,
        ServerThread(portal.app()) as p,
    ):
        settings = gateway_settings(
            auth_upstreams=[a.url],
            verification_upstreams=[f"http://127.0.0.1:{dead_port}"],
            orders_upstreams=[o.url, o2.url],
            portal_upstreams=[p.url],
        )
        with GatewayServer(settings) as gateway, httpx.Client(base_url=gateway.url) as client:
            started = time.monotonic()
            body = assert_problem(client.get("/healthz"), 503, "degraded")
            assert time.monotonic() - started < 2
    assert body["down"] == ["verification"]
    services = body["services"]
    assert services["verification"]["status"] == "down"
    assert services["verification"]["replicas"] == [{"replica": 0, "status": "down", "reason": "refused"}]
    assert services["orders"]["status"] == "degraded"
    assert services["orders"]["replicas"][1] == {"replica": 1, "status": "down", "reason": "status 503"}
    assert services["auth"]["status"] == services["portal"]["status"] == "up"
    assert "verification" in body["detail"]


def test_metrics_count_proxied_requests_by_service_route(client: httpx.Client, deployment: Deployment) -> None:
    client.get("/api/verification/cases/1")
    text = httpx.get(deployment.metrics_url).text
    assert 'route="/api/verification/{path}"' in text
    assert "mamori_http_request_seconds_bucket" in text


@pytest.mark.parametrize("path", ["/api/orders/1", "/healthz"])
def test_a_gateway_bug_still_answers_a_problem_with_the_request_id(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxied paths skip FastAPI's error layer: the gateway's own outer layer is the last resort,
    for them and for its own routes alike."""

    async def broken(*_args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr("gateway.proxy.Proxy._forward", broken)
    monkeypatch.setattr("gateway.main.aggregate_health", broken)
    app = create_app(gateway_settings(gateway_metrics_port=None))
    with TestClient(app, client=("127.0.0.1", 50000)) as client:  # a trusted proxy: its request id is kept
        response = client.get(path, headers={"x-request-id": "from-the-balancer-1"})
    assert_problem(response, 500, "internal_error")
    assert "a bug" not in response.text
    assert response.headers["x-request-id"] == "from-the-balancer-1"
    assert response.headers["x-content-type-options"] == "nosniff"
