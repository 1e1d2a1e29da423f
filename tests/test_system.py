"""The whole suite as ``make run`` starts it: real processes, driven over HTTP through the gateway.

``mamori run`` (``python -m infra.cli run``) is started with a data dir and gateway port of its
own; the tests read its output as a user would (the portal URL, the demo credentials), find the
processes it started, and talk to them through the gateway, and to each service directly where
they compare the two. One test starts a run of its own, stops it with SIGTERM and checks that
nothing is left running (so no test depends on running last). With ``MAMORI_TEST_POSTGRES_URL`` and ``MAMORI_TEST_REDIS_URL``
the production shape runs too: a database per service, Redis, two replicas of each service.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import redis
from sqlalchemy import create_engine, text

from infra.edge import find_nginx
from infra.services import BACKEND_SERVICES, DATABASE_SERVICES
from mamori_common.db import normalise_url
from mamori_common.problems import PROBLEM_MEDIA_TYPE
from services.auth.config import AuthSettings
from tests.support.postgres import emptied_redis, fresh_databases
from tests.support.processes import ChildProcess, MamoriRun, is_running
from tests.support.servers import wait_until
from tests.support.webauthn_authenticator import SoftwareAuthenticator

pytestmark = pytest.mark.system

SERVICES = tuple(spec.name for spec in BACKEND_SERVICES)  # auth, verification, orders, portal
STRONG_PASSWORD = "quiet-harbour-lantern-58"
_DEMO_LINE = re.compile(
    r"^\s*(customer|specialist|support|admin)\s+(\S+@\S+)\s+password:\s+(\S+)(?:\s+totp secret:\s+(\S+))?\s*$"
)


# --------------------------------------------------------------------------- helpers


def demo_credentials(run: MamoriRun) -> dict[str, tuple[str, str]]:
    """role -> (e-mail, password), as printed by ``mamori run``."""
    found = {}
    for line in run.output:
        match = _DEMO_LINE.match(line)
        if match:
            found[match.group(1)] = (match.group(2), match.group(3))
    return found


def demo_totp_secret(run: MamoriRun, role: str) -> str:
    """The TOTP secret ``mamori run`` prints beside a demo staff account (staff step up every time)."""
    for line in run.output:
        match = _DEMO_LINE.match(line)
        if match and match.group(1) == role and match.group(4):
            return match.group(4)
    raise AssertionError(f"no TOTP secret printed for {role}: {run.output}")


def operations(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """operationId -> (METHOD, path) of an OpenAPI document."""
    found = {}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = (method.upper(), path)
    return found


def sign_in(
    client: httpx.Client, paths: dict[str, tuple[str, str]], email: str, password: str, totp_secret: str | None = None
) -> str:
    """The access token of a password sign-in; with ``totp_secret`` (staff), through the TOTP step-up."""
    method, path = paths["login"]
    response = client.request(method, path, json={"email": email, "password": password})
    if totp_secret is not None and response.status_code == 401 and response.json().get("code") == "challenge_required":
        response = complete_with_totp(client, paths, str(response.json()["challenge_id"]), totp_secret)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def complete_with_totp(
    client: httpx.Client, paths: dict[str, tuple[str, str]], challenge_id: str, secret: str
) -> httpx.Response:
    """Answer a step-up with the current TOTP code; a code is taken once, so a code the same staff
    member already used this 30-second step waits for the next one."""
    method, path = paths["completeChallenge"]
    for _ in range(3):
        body = {"challenge_id": challenge_id, "method": "totp", "code": pyotp.TOTP(secret).now()}
        response = client.request(method, path, json=body)
        if response.status_code != 401 or response.json().get("code") != "invalid_code":
            return response
        time.sleep(30 - time.time() % 30 + 0.5)
    return response


def get_me(client: httpx.Client, paths: dict[str, tuple[str, str]], token: str) -> httpx.Response:
    method, path = paths["getMe"]
    return client.request(method, path, headers={"authorization": f"Bearer {token}"})


def assert_stops_cleanly(run: MamoriRun) -> None:
    """SIGTERM: exit code 0, and not one of the processes it started is left running."""
    pids = [child.pid for child in run.children]
    assert pids and all(is_running(pid) for pid in pids), "every child runs before the stop"
    code = run.terminate()
    assert code == 0, run.transcript()
    orphans = [child for child in run.children if is_running(child.pid)]
    assert not orphans, f"left running after SIGTERM: {orphans}"
    assert "Stopped." in run.output
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{run.gateway_url}/healthz", timeout=2)


# --------------------------------------------------------------------------- embedded default


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MamoriRun]:
    run = MamoriRun(tmp_path_factory.mktemp("mamori-run") / "var")
    try:
        run.start()
        yield run
    finally:
        run.close()


@pytest.fixture(scope="module")
def gateway(deployment: MamoriRun) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=deployment.gateway_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def merged_operations(gateway: httpx.Client) -> dict[str, tuple[str, str]]:
    response = gateway.get("/openapi.json")
    assert response.status_code == 200, response.text
    return operations(response.json())


def test_started_every_service_the_gateway_and_nginx_when_installed(deployment: MamoriRun) -> None:
    edge = ["edge"] if find_nginx() else []
    names = sorted(child.name for child in deployment.children)
    assert names == sorted([*SERVICES, "gateway", *edge]), deployment.children
    on_public_port = [child.name for child in deployment.children if child.port == deployment.gateway_port]
    assert on_public_port == (edge or ["gateway"])
    assert ("Edge:     nginx" in "\n".join(deployment.output)) == bool(edge)
    for spec in DATABASE_SERVICES:
        assert (deployment.data_dir / f"{spec.name}.db").is_file(), f"{spec.name} has its own SQLite file"


def test_healthz_reports_every_service_up(gateway: httpx.Client) -> None:
    response = gateway.get("/healthz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert set(SERVICES) <= set(body["services"])
    for name in SERVICES:
        assert body["services"][name]["status"] == "up", body


def test_merged_openapi_lists_every_services_operations(deployment: MamoriRun, gateway: httpx.Client) -> None:
    own: dict[str, dict[str, tuple[str, str]]] = {}
    for child in deployment.children:
        if child.name not in ("gateway", "edge"):
            response = httpx.get(f"{child.url}/openapi.json", timeout=10)
            assert response.status_code == 200, f"{child.name}: {response.status_code}"
            own[child.name] = operations(response.json())
    assert {"register", "getMe", "login"} <= set(own["auth"])

    expected = {operation_id: route for service in own.values() for operation_id, route in service.items()}

    def merged_is_complete() -> dict[str, tuple[str, str]] | None:
        merged = operations(gateway.get("/openapi.json").json())
        return merged if set(expected) <= set(merged) else None

    # The gateway caches the merged document; a service it could not reach at first is asked again.
    merged = wait_until(merged_is_complete, timeout=15, interval=0.25, what="every operation in /openapi.json")
    for operation_id, route in expected.items():
        assert merged[operation_id] == route, f"{operation_id}: merged {merged[operation_id]}, service {route}"


def test_unknown_path_is_a_problem_with_a_code(gateway: httpx.Client) -> None:
    for path in ("/api/no-such-thing", "/api/auth/no-such-thing", "/definitely/not/here"):
        response = gateway.get(path)
        assert response.status_code == 404, f"{path}: {response.status_code}"
        assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE), path
        body = response.json()
        assert body["status"] == 404 and body["code"], body


def test_malformed_json_body_is_a_400_problem(
    gateway: httpx.Client, merged_operations: dict[str, tuple[str, str]]
) -> None:
    method, path = merged_operations["register"]
    assert (method, path) == ("POST", "/api/auth/accounts")
    response = gateway.request(
        method, path, content=b'{"email": "broken@example.com", ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert response.json()["code"] == "malformed_body"


def test_portal_landing_page_is_served(gateway: httpx.Client) -> None:
    english = gateway.get("/", headers={"accept-language": "en"})
    assert english.status_code == 200
    assert english.headers["content-type"].startswith("text/html")
    assert "<title>Mamori" in english.text
    japanese = gateway.get("/", headers={"accept-language": "ja"})
    assert japanese.status_code == 200 and 'lang="ja"' in japanese.text


def test_the_front_door_metrics_oversize_bodies_and_head(deployment: MamoriRun, gateway: httpx.Client) -> None:
    for path in ("/metrics", "/internal/events"):
        refused = gateway.get(path)
        assert refused.status_code == 404 and refused.json()["code"] == "not_found", path
    metrics_line = next(line for line in deployment.output if "Gateway metrics" in line)
    metrics = httpx.get(metrics_line.rsplit(" ", 1)[1], timeout=5)
    assert metrics.status_code == 200 and "mamori_http_requests_total" in metrics.text
    huge = b'{"email": "' + b"a" * (5 * 1024 * 1024) + b'", "password": "x"}'
    oversize = gateway.post("/api/auth/login", content=huge, headers={"content-type": "application/json"})
    assert oversize.status_code == 413 and oversize.json()["code"] == "body_too_large"
    head, get = gateway.head("/"), gateway.get("/")
    assert head.status_code == get.status_code == 200 and head.content == b""


def test_every_response_carries_a_request_id(gateway: httpx.Client) -> None:
    seen = set()
    for method, path in (
        ("GET", "/healthz"),
        ("GET", "/"),
        ("GET", "/openapi.json"),
        ("GET", "/api/nope"),
        ("POST", "/api/auth/accounts"),
    ):
        response = gateway.request(method, path, json={} if method == "POST" else None)
        request_id = response.headers.get("x-request-id")
        assert request_id and re.fullmatch(r"[A-Za-z0-9._-]{8,128}", request_id), f"{method} {path}: {request_id!r}"
        seen.add(request_id)
    assert len(seen) == 5, "each request gets its own id"

    # From a trusted address (loopback is, by default) a well-formed id is kept, for tracing a
    # request from a load balancer through every hop; a malformed one is replaced.
    mine = f"system-test-{uuid.uuid4().hex}"
    kept = gateway.post("/api/auth/accounts", json={}, headers={"x-request-id": mine})
    assert kept.headers["x-request-id"] == mine
    replaced = gateway.get("/healthz", headers={"x-request-id": "has spaces in it"})
    assert replaced.headers["x-request-id"] != "has spaces in it"


def test_demo_customer_printed_by_mamori_run_can_sign_in(
    deployment: MamoriRun, gateway: httpx.Client, merged_operations: dict[str, tuple[str, str]]
) -> None:
    credentials = demo_credentials(deployment)
    assert set(credentials) == {"customer", "specialist", "support", "admin"}, deployment.output
    email, password = credentials["customer"]
    token = sign_in(gateway, merged_operations, email, password)
    me = get_me(gateway, merged_operations, token)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == email


def test_the_portal_is_printed_by_name_and_a_passkey_signs_in_through_the_edge(
    deployment: MamoriRun, gateway: httpx.Client, merged_operations: dict[str, tuple[str, str]]
) -> None:
    """An IP address is not a valid relying party id: the printed URL is http://localhost:<port>,
    and it is the origin auth accepts a ceremony from."""
    assert deployment.gateway_url == f"http://localhost:{deployment.gateway_port}"
    email = f"passkey-{uuid.uuid4().hex[:8]}@example.com"
    registered = gateway.post("/api/auth/accounts", json={"email": email, "password": STRONG_PASSWORD, "name": "Aoi"})
    assert registered.status_code == 201, registered.text
    headers = {"authorization": f"Bearer {sign_in(gateway, merged_operations, email, STRONG_PASSWORD)}"}
    authenticator = SoftwareAuthenticator(origin=deployment.gateway_url)

    method, path = merged_operations["beginPasskeyRegistration"]
    started = gateway.request(method, path, headers=headers, json={}).json()
    assert started["options"]["rp"]["id"] == "localhost"
    method, path = merged_operations["finishPasskeyRegistration"]
    body = {"ceremony_id": started["ceremony_id"], "credential": authenticator.create(started["options"])}
    added = gateway.request(method, path, headers=headers, json=body)
    assert added.status_code == 201, added.text

    method, path = merged_operations["beginPasskeySignIn"]
    ceremony = gateway.request(method, path, json={}).json()
    method, path = merged_operations["finishPasskeySignIn"]
    assertion = authenticator.get(ceremony["options"])
    signed_in = gateway.request(method, path, json={"ceremony_id": ceremony["ceremony_id"], "credential": assertion})
    assert signed_in.status_code == 200, signed_in.text
    me = get_me(gateway, merged_operations, signed_in.json()["access_token"])
    assert me.json()["email"] == email and me.json()["passkeys"] == 1

    elsewhere = SoftwareAuthenticator(origin="http://127.0.0.1:" + str(deployment.gateway_port))
    elsewhere.credentials = authenticator.credentials
    ceremony = gateway.post(merged_operations["beginPasskeySignIn"][1], json={}).json()
    refused = gateway.request(
        method, path, json={"ceremony_id": ceremony["ceremony_id"], "credential": elsewhere.get(ceremony["options"])}
    )
    assert refused.status_code == 401 and refused.json()["code"] == "passkey_invalid"


# Keep last: it stops the module's deployment.
def test_sigterm_stops_every_child_and_exits_0(tmp_path: Path) -> None:
    """A run of its own: stopping the shared deployment would make the other tests depend on order."""
    run = MamoriRun(tmp_path / "var")
    try:
        run.start()
        assert_stops_cleanly(run)
    finally:
        run.close()


# --------------------------------------------------------------------------- production shape


@pytest.fixture
def postgres_admin_url() -> str:
    url = os.environ.get("MAMORI_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("MAMORI_TEST_POSTGRES_URL is not set")
    return url


@pytest.mark.postgres
@pytest.mark.redis
def test_postgres_redis_two_replicas_each(tmp_path: Path, postgres_admin_url: str, redis_url: str) -> None:
    names = [spec.name for spec in DATABASE_SERVICES]
    with fresh_databases(postgres_admin_url, names) as databases:
        env = {f"MAMORI_{name.upper()}_DATABASE_URL": url for name, url in databases.items()}
        env["MAMORI_REDIS_URL"] = emptied_redis(redis_url)
        run = MamoriRun(tmp_path / "var", ["--replicas", "2"], env)
        try:
            run.start()
            _check_production_shape(run, databases, redis_url)
            assert_stops_cleanly(run)
        finally:
            run.close()


def _check_production_shape(run: MamoriRun, databases: dict[str, str], redis_url: str) -> None:
    by_service: dict[str, list[ChildProcess]] = {}
    for child in run.children:
        by_service.setdefault(child.name, []).append(child)
    edge = {"edge": 1} if find_nginx() else {}
    assert {name: len(children) for name, children in by_service.items()} == {
        "auth": 2,
        "verification": 2,
        "orders": 2,
        "portal": 2,
        "gateway": 1,
        **edge,
    }
    for child in run.children:
        if child.name not in ("gateway", "edge"):
            ready = httpx.get(f"{child.url}/readyz", timeout=5)
            assert ready.status_code == 200, f"{child.name}:{child.port} {ready.text}"
    assert not list(run.data_dir.glob("*.db")), "no service fell back to SQLite"

    with httpx.Client(base_url=run.gateway_url, timeout=10) as gateway:
        health = gateway.get("/healthz")
        assert health.status_code == 200, health.text
        for name in SERVICES:
            service = health.json()["services"][name]
            assert service["status"] == "up", service
            assert [replica["status"] for replica in service["replicas"]] == ["up", "up"], service

        paths = operations(gateway.get("/openapi.json").json())
        # A new customer, then the seeded one: written to and read from PostgreSQL.
        email = f"system-{uuid.uuid4().hex[:10]}@example.com"
        method, path = paths["register"]
        registered = gateway.request(
            method, path, json={"email": email, "password": STRONG_PASSWORD, "name": "Sora Aoki", "language": "en"}
        )
        assert registered.status_code == 201, registered.text
        token = sign_in(gateway, paths, email, STRONG_PASSWORD)
        # Every auth replica accepts a token the other issued (the gateway spreads the calls).
        for _ in range(6):
            me = get_me(gateway, paths, token)
            assert me.status_code == 200 and me.json()["email"] == email, me.text
        demo_email, demo_password = demo_credentials(run)["customer"]
        assert get_me(gateway, paths, sign_in(gateway, paths, demo_email, demo_password)).status_code == 200

        # A failed sign-in is counted in Redis, where both auth replicas see it.
        method, path = paths["login"]
        failed = gateway.request(method, path, json={"email": email, "password": "not-the-password-at-all"})
        assert failed.status_code == 401 and failed.json()["code"] == "invalid_credentials", failed.text
        prefix = AuthSettings().resolved_quota_key_prefix()
        client = redis.Redis.from_url(redis_url)
        try:
            assert any(True for _ in client.scan_iter(match=f"*{prefix}*")), "throttle counters live in Redis"
        finally:
            client.close()

    engine = create_engine(normalise_url(databases["auth"]))
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT count(*) FROM accounts WHERE email = :email"), {"email": email}
            ).scalar()
    finally:
        engine.dispose()
    assert stored == 1, "the account is in auth's PostgreSQL database"
