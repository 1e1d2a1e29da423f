"""The gateway's rules, one function at a time: routing, replicas, headers, settings, merging."""

from __future__ import annotations

import pytest

from gateway.clients import ClientContext, TrustedProxies
from gateway.config import GatewaySettings
from gateway.forwarding import has_body, request_headers, response_headers
from gateway.nginx import EdgeLayout, render
from gateway.openapi_merge import MISSING_KEY, merge_documents
from gateway.routing import is_malformed, is_refused, route_for, service_for
from mamori_common.front_door import UPLOAD_BODY_LIMIT
from mamori_common.replicas import ReplicaSet

# --- routing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/auth/login", "auth"),
        ("/api/auth", "auth"),
        ("/api/verification/cases/1", "verification"),
        ("/api/orders/", "orders"),
        ("/api/authority", "portal"),  # a prefix matches whole segments only
        ("/api/ordersx/1", "portal"),
        ("/", "portal"),
        ("/account/cases", "portal"),
        ("//api/auth/login", "portal"),
    ],
)
def test_service_for_routes_by_whole_segment_prefix(path: str, service: str) -> None:
    assert service_for(path) == service


@pytest.mark.parametrize("path", ["/internal/events", "/internal", "//internal/events", "/INTERNAL/x", "///Internal"])
def test_internal_paths_are_recognised_however_written(path: str) -> None:
    assert is_refused(path)


@pytest.mark.parametrize("path", ["/api/orders/internal", "/internals", "/", "/api/auth/login"])
def test_public_paths_are_not_internal(path: str) -> None:
    assert not is_refused(path)


@pytest.mark.parametrize("path", ["/api/orders/../internal/events", "/./x", "/a/..", "/a\\b", "/a\x00b", "relative"])
def test_malformed_paths(path: str) -> None:
    assert is_malformed(path)


@pytest.mark.parametrize("path", ["/", "/api/orders/1", "/files/report.v2.pdf", "/a/...b", "/.well-known/x"])
def test_well_formed_paths(path: str) -> None:
    assert not is_malformed(path)


# --- replicas -----------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_replicas_are_handed_out_round_robin() -> None:
    replicas = ReplicaSet("orders", ["http://a", "http://b", "http://c"], cooldown=5)
    firsts = [replicas.candidates()[0].url for _ in range(6)]
    assert firsts == ["http://a", "http://b", "http://c", "http://a", "http://b", "http://c"]


def test_a_refusing_replica_is_passed_over_until_its_cooldown_ends() -> None:
    clock = FakeClock()
    replicas = ReplicaSet("orders", ["http://a", "http://b"], cooldown=5, clock=clock)
    a = replicas.replicas[0]
    replicas.mark_down(a)
    assert [replicas.candidates()[0].url for _ in range(4)] == ["http://b"] * 4
    assert replicas.candidates()[-1] is a  # still tried last, should b fail too
    clock.now += 5.01
    assert {replicas.candidates()[0].url for _ in range(4)} == {"http://a", "http://b"}


def test_when_every_replica_is_down_all_are_still_tried() -> None:
    replicas = ReplicaSet("orders", ["http://a", "http://b"], cooldown=5, clock=FakeClock())
    for replica in replicas.replicas:
        replicas.mark_down(replica)
    assert len(replicas.candidates()) == 2


# --- forwarded headers --------------------------------------------------------------------------


def _context(trusted: bool, https: bool = False) -> ClientContext:
    return ClientContext(
        peer="10.0.0.9", trusted_peer=trusted, client_ip="10.0.0.9", https=https, request_id="rid-12345678"
    )


INCOMING = [
    (b"host", b"shop.example"),
    (b"user-agent", b"browser"),
    (b"connection", b"keep-alive, x-hop"),
    (b"x-hop", b"1"),
    (b"keep-alive", b"timeout=5"),
    (b"proxy-authorization", b"Basic eA=="),
    (b"te", b"trailers"),
    (b"x-forwarded-for", b"1.2.3.4"),
    (b"x-forwarded-host", b"evil.example"),
    (b"x-real-ip", b"6.6.6.6"),
    (b"x-request-id", b"client-chosen-id"),
    (b"cookie", b"sid=1"),
]


def test_untrusted_peer_loses_its_forwarding_headers_and_hop_by_hop_ones() -> None:
    sent = request_headers(INCOMING, _context(trusted=False))
    names = [name for name, _ in sent]
    for dropped in (b"connection", b"x-hop", b"keep-alive", b"proxy-authorization", b"te", b"x-real-ip", b"host"):
        assert dropped not in names
    assert (b"x-forwarded-for", b"10.0.0.9") in sent
    assert (b"x-forwarded-host", b"shop.example") in sent
    assert (b"x-forwarded-proto", b"http") in sent
    assert (b"x-request-id", b"rid-12345678") in sent
    assert names.count(b"x-request-id") == names.count(b"x-forwarded-for") == 1
    assert (b"cookie", b"sid=1") in sent and (b"user-agent", b"browser") in sent


def test_trusted_proxy_chain_is_extended() -> None:
    sent = dict(request_headers(INCOMING, _context(trusted=True, https=True)))
    assert sent[b"x-forwarded-for"] == b"1.2.3.4, 10.0.0.9"
    assert sent[b"x-forwarded-host"] == b"evil.example"  # the proxy in front named it
    assert sent[b"x-forwarded-proto"] == b"https"
    assert sent[b"x-real-ip"] == b"6.6.6.6"


def test_response_hop_by_hop_headers_are_dropped() -> None:
    upstream = [
        (b"Content-Type", b"application/json"),
        (b"Connection", b"x-upstream-hop"),
        (b"X-Upstream-Hop", b"1"),
        (b"Keep-Alive", b"timeout=9"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Set-Cookie", b"a=1"),
        (b"Set-Cookie", b"b=2"),
        (b"Server", b"uvicorn"),
    ]
    assert response_headers(upstream) == [
        (b"content-type", b"application/json"),
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
    ]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], False),
        ([(b"content-length", b"0")], False),
        ([(b"content-length", b"12")], True),
        ([(b"transfer-encoding", b"chunked")], True),
    ],
)
def test_has_body(headers: list[tuple[bytes, bytes]], expected: bool) -> None:
    assert has_body(headers) is expected


def test_request_id_and_scheme_are_believed_only_from_trusted_proxies() -> None:
    trusted = TrustedProxies(["10.0.0.0/8"])
    headers = [
        (b"x-request-id", b"from-the-balancer-1"),
        (b"x-forwarded-proto", b"https"),
        (b"x-forwarded-for", b"8.8.8.8"),
    ]
    believed = trusted.context({"client": ("10.1.2.3", 5000), "scheme": "http"}, headers)
    assert (believed.request_id, believed.https, believed.client_ip) == ("from-the-balancer-1", True, "8.8.8.8")
    doubted = trusted.context({"client": ("203.0.113.7", 5000), "scheme": "http"}, headers)
    assert doubted.request_id != "from-the-balancer-1" and len(doubted.request_id) == 32
    assert (doubted.https, doubted.client_ip) == (False, "203.0.113.7")
    garbled = trusted.context({"client": ("10.1.2.3", 5000), "scheme": "http"}, [(b"x-request-id", b"bad id\n")])
    assert garbled.request_id != "bad id\n"


# --- settings -----------------------------------------------------------------------------------


def test_upstreams_come_from_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAMORI_ORDERS_UPSTREAMS", "http://10.0.0.1:8003, http://10.0.0.2:8003/")
    monkeypatch.setenv("MAMORI_AUTH_URL", "http://auth.internal:9001")
    monkeypatch.setenv("MAMORI_GATEWAY_PORT", "9000")
    settings = GatewaySettings()
    assert settings.upstreams("orders") == ["http://10.0.0.1:8003", "http://10.0.0.2:8003"]
    assert settings.upstreams("auth") == ["http://auth.internal:9001"]  # falls back to the service URL
    assert settings.gateway_port == 9000
    assert settings.upstream_connect_timeout == 2.0 and settings.upstream_read_timeout is None  # each route its own


@pytest.mark.parametrize("bad", ["ftp://x", "http://x/api", "not a url"])
def test_an_upstream_must_be_a_base_http_url(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("MAMORI_PORTAL_UPSTREAMS", bad)
    with pytest.raises(ValueError):
        GatewaySettings()


# --- OpenAPI merge ------------------------------------------------------------------------------


def _document(title: str, paths: dict[str, dict[str, object]], schemas: dict[str, object]) -> dict[str, object]:
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _operation(operation_id: str, schema: str) -> dict[str, object]:
    return {
        "operationId": operation_id,
        "responses": {"200": {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}},
    }


PROBLEM = {"type": "object", "properties": {"code": {"type": "string"}}}


def test_merge_keeps_operation_ids_and_prefixes_clashing_schemas() -> None:
    auth = _document(
        "auth",
        {
            "/api/auth/login": {"post": _operation("login", "Money")},
            "/internal/events": {"post": _operation("receiveEvent", "Problem")},
        },
        {"Money": {"type": "object", "properties": {"amount": {"type": "integer"}}}, "Problem": PROBLEM},
    )
    orders = _document(
        "orders",
        {
            "/api/orders": {"post": _operation("placeOrder", "Order")},
            "/api/auth/sneaky": {"get": _operation("sneaky", "Problem")},
        },
        {
            "Money": {"type": "object", "properties": {"amount": {"type": "integer"}, "currency": {"type": "string"}}},
            "Order": {"type": "object", "properties": {"total": {"$ref": "#/components/schemas/Money"}}},
            "Problem": PROBLEM,
        },
    )
    merged = merge_documents({"auth": auth, "orders": orders})
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"auth_Money", "orders_Money", "Order", "Problem"}
    assert "currency" in schemas["orders_Money"]["properties"] and "currency" not in schemas["auth_Money"]["properties"]
    assert schemas["Order"]["properties"]["total"]["$ref"] == "#/components/schemas/orders_Money"
    login = merged["paths"]["/api/auth/login"]["post"]
    assert login["operationId"] == "login"
    assert (
        login["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/auth_Money"
    )
    assert merged["paths"]["/api/orders"]["post"]["operationId"] == "placeOrder"
    assert "/internal/events" not in merged["paths"]  # never reachable through the gateway
    assert "/api/auth/sneaky" not in merged["paths"]  # orders cannot publish auth's paths
    assert [tag["name"] for tag in merged["tags"]][:2] == ["auth", "orders"]
    assert login["tags"] == ["auth"]
    assert merged["openapi"] == "3.1.0" and MISSING_KEY not in merged


def test_a_rename_that_makes_dependants_differ_renames_them_too() -> None:
    # Both define Order identically *as text*, but each points at its own, different Money.
    order = {"type": "object", "properties": {"total": {"$ref": "#/components/schemas/Money"}}}
    a = _document("a", {}, {"Money": {"type": "integer"}, "Order": order})
    b = _document("b", {}, {"Money": {"type": "string"}, "Order": order})
    schemas = merge_documents({"auth": a, "orders": b})["components"]["schemas"]
    assert schemas["auth_Order"]["properties"]["total"]["$ref"] == "#/components/schemas/auth_Money"
    assert schemas["orders_Order"]["properties"]["total"]["$ref"] == "#/components/schemas/orders_Money"


def test_missing_services_are_named() -> None:
    merged = merge_documents({"auth": _document("auth", {}, {})}, missing=["orders"])
    assert merged[MISSING_KEY] == ["orders"]


# --- the route table: limits and timeouts ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "service", "max_body", "read_timeout"),
    [
        ("/api/auth/login", "auth", 64 * 1024, 30.0),
        ("/api/auth/messages/verify", "auth", 1024 * 1024, 30.0),  # a pasted mail
        ("/api/verification/cases/c-1/documents", "verification", UPLOAD_BODY_LIMIT, 120.0),
        ("/api/verification/cases/c-1/documents/d-1", "verification", 64 * 1024, 30.0),
        ("/api/verification/cases/c-1", "verification", 64 * 1024, 30.0),
        ("/account", "portal", 64 * 1024, 30.0),
    ],
)
def test_each_path_gets_its_routes_body_limit_and_timeout(
    path: str, service: str, max_body: int, read_timeout: float
) -> None:
    route = route_for(path)
    assert (route.service, route.max_body, route.read_timeout) == (service, max_body, read_timeout)


def test_the_nginx_configuration_carries_the_route_table() -> None:
    layout = EdgeLayout(
        listen="127.0.0.1:8000",
        upstreams={"auth": ["127.0.0.1:8001", "127.0.0.1:8011"], "verification": ["127.0.0.1:8002"],
                   "orders": ["127.0.0.1:8003"], "portal": ["127.0.0.1:8004"], "gateway": ["127.0.0.1:8010"]},
        trusted_proxies=["10.0.0.0/8"],
        runtime_dir="/run/edge",
    )  # fmt: skip
    conf = render(layout)
    assert "server 127.0.0.1:8011 max_fails=1" in conf and "keepalive 64;" in conf
    assert "set_real_ip_from 10.0.0.0/8;" in conf and "set_real_ip_from 127.0.0.1" not in conf
    assert "location ~* ^/+(internal|metrics)(/|$)" in conf
    assert (
        f"location ~ ^/api/verification/cases/[^/]+/documents$ {{\n            client_max_body_size {UPLOAD_BODY_LIMIT // 1024}k;"
        in conf
    )
    assert "location = /api/auth/login {\n            limit_req zone=mamori_sign_in" in conf
    for path in ("/healthz", "/openapi.json", "/docs"):
        assert (
            f"location = {path} {{\n            proxy_read_timeout 30s;\n            proxy_pass http://mamori_gateway;"
            in conf
        )
    for status in (404, 413, 429, 502, 503, 504):
        assert f"error_page {status} = @problem_{status};" in conf
    assert '"code":"body_too_large"' in conf and "pid /run/edge/nginx.pid;" in conf
