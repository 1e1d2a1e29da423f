"""An ended session's access token stops at orders and verification within a second (real processes).

On main the token of a session ended by logout, "sign out everywhere" or a freeze kept working at
orders and verification for the rest of its ten minutes (``placeOrder`` of a 50,000-yen top-up
after "sign out everywhere"; ``listCases`` and ``requestCallback`` after a freeze), because they
checked only its signature. Here ``mamori run`` runs the real processes and every call goes
through the edge: after each way of ending a session, ``placeOrder``, ``listOrders``, ``listCases``
and ``requestCallback`` answer the old token ``401 session_revoked`` (a problem document) within a
second, while a live session's token still works. With auth killed, the revoked token stays refused
and a live one still reads; after orders is killed and started again by the supervisor, the
revoked token is still refused. With ``MAMORI_TEST_POSTGRES_URL`` and ``MAMORI_TEST_REDIS_URL`` the
same runs in the production shape too (PostgreSQL, Redis, two replicas of each service, every
replica of the killed service killed): an event reaches one replica, the others must learn it anyway.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.nginx import UPSTREAM_KEEPALIVE_SECONDS
from infra.services import DATABASE_SERVICES
from mamori_common.problems import PROBLEM_MEDIA_TYPE
from tests.support.postgres import emptied_redis, fresh_databases
from tests.support.processes import ChildProcess, MamoriRun, is_running, uvicorn_children
from tests.support.servers import wait_until
from tests.test_system import STRONG_PASSWORD, demo_credentials, demo_totp_secret, operations, sign_in

pytestmark = pytest.mark.system

#: The supervisor waits this long before starting a killed process again: the window in which auth
#: is down, and what a restart of orders takes.
RESTART_DELAY_SECONDS = 8
#: The promise: a revocation reaches every service within a second.
WITHIN_SECONDS = 1.0
CARD = {"token": "tok_visa_4242", "last4": "4242", "expiry": "04/29", "holder_name": "Sora Aoki"}


class Edge:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.paths = operations(client.get("/openapi.json").json())

    def call(self, operation: str, token: str | None = None, args: dict[str, str] | None = None, **kw: Any) -> Any:
        method, path = self.paths[operation]
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return self.client.request(method, path.format(**(args or {})), headers=headers, **kw)

    def customer(self) -> str:
        email = f"revoked-{uuid.uuid4().hex[:10]}@example.com"
        registered = self.call("register", json={"email": email, "password": STRONG_PASSWORD, "name": "Sora Aoki"})
        assert registered.status_code == 201, registered.text
        return email

    def sign_in(self, email: str, password: str = STRONG_PASSWORD, totp_secret: str | None = None) -> str:
        """A customer's password sign-in; staff (``totp_secret``) through their TOTP step-up."""
        return sign_in(self.client, self.paths, email, password, totp_secret)

    def place_top_up(self, token: str, amount: int = 50_000) -> httpx.Response:
        line = {"kind": "balance_top_up", "description": "Balance top-up", "unit_amount": amount}
        return self.call(
            "placeOrder", token, json={"lines": [line], "tenders": [{"kind": "card", "amount": amount, "card": CARD}]}
        )

    def each_operation(self, token: str) -> dict[str, httpx.Response]:
        """The four operations the issue names, with ``token``."""
        return {
            "placeOrder": self.place_top_up(token),
            "listOrders": self.call("listOrders", token),
            "listCases": self.call("listCases", token),
            "requestCallback": self.call("requestCallback", token, json={"phone": "03-1234-5678"}),
        }


def assert_refused(answers: dict[str, httpx.Response]) -> None:
    for name, answer in answers.items():
        assert answer.status_code == 401, f"{name}: {answer.status_code} {answer.text[:300]}"
        assert answer.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE), name
        assert answer.json()["code"] == "session_revoked", f"{name}: {answer.text[:300]}"


def refused_everywhere_within(edge: Edge, token: str, answered: float) -> float:
    """Seconds from ``answered`` (the ending's answer) to the first refusal; fails past the promise.

    Then, once the promised second is over, all four operations must refuse the token, twice
    over: the edge takes turns, so with two replicas each of them is asked.
    """

    def refused() -> bool:
        return all(edge.call(operation, token).status_code == 401 for operation in ("listOrders", "listCases"))

    wait_until(refused, timeout=WITHIN_SECONDS, interval=0.01, what="the old token refused at orders and verification")
    first = time.monotonic() - answered
    time.sleep(max(0.0, answered + WITHIN_SECONDS - time.monotonic()))
    for _ in range(2):
        assert_refused(edge.each_operation(token))
    return first


def ended(edge: Edge, operation: str, token: str, **kw: Any) -> float:
    """Call the operation that ends a session; the moment it answered."""
    answer = edge.call(operation, token, **kw)
    assert answer.status_code in (200, 204), answer.text
    return time.monotonic()


@pytest.fixture(scope="module", params=["embedded", "production"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MamoriRun]:
    env = {"MAMORI_RESTART_FIRST_DELAY_SECONDS": str(RESTART_DELAY_SECONDS)}
    with contextlib.ExitStack() as stack:
        args: list[str] = []
        if request.param == "production":
            admin_url, redis_url = os.environ.get("MAMORI_TEST_POSTGRES_URL"), os.environ.get("MAMORI_TEST_REDIS_URL")
            if not admin_url or not redis_url:
                pytest.skip("MAMORI_TEST_POSTGRES_URL and MAMORI_TEST_REDIS_URL are not set")
            databases = stack.enter_context(fresh_databases(admin_url, [spec.name for spec in DATABASE_SERVICES]))
            env |= {f"MAMORI_{name.upper()}_DATABASE_URL": url for name, url in databases.items()}
            env["MAMORI_REDIS_URL"] = emptied_redis(redis_url)
            args = ["--replicas", "2"]
        deployment = MamoriRun(tmp_path_factory.mktemp("revocation") / "var", args, env)
        stack.callback(deployment.close)
        deployment.start()
        yield deployment


@pytest.fixture(scope="module")
def edge(run: MamoriRun) -> Iterator[Edge]:
    with httpx.Client(base_url=run.gateway_url, timeout=30) as client:
        yield Edge(client)


def test_a_logged_out_token_is_refused_everywhere_within_a_second(edge: Edge) -> None:
    email = edge.customer()
    token, other = edge.sign_in(email), edge.sign_in(email)
    assert edge.call("listOrders", token).status_code == 200
    assert edge.call("listCases", token).status_code == 200

    refused_everywhere_within(edge, token, ended(edge, "logout", token))
    assert edge.call("listOrders", other).status_code == 200, "the same account's other session goes on"


def test_sign_out_everywhere_stops_a_50000_yen_top_up_from_the_other_sessions(edge: Edge) -> None:
    email = edge.customer()
    intruder, owner = edge.sign_in(email), edge.sign_in(email)

    refused_everywhere_within(edge, intruder, ended(edge, "revokeSessions", owner, json={"all_but_current": True}))
    orders = edge.call("listOrders", owner)
    assert orders.status_code == 200
    assert orders.json()["items"] == [], "the intruder's top-up was never taken"


def test_a_freeze_stops_list_cases_and_request_callback_within_a_second(run: MamoriRun, edge: Edge) -> None:
    email = edge.customer()
    token = edge.sign_in(email)
    account_id = edge.call("getMe", token).json()["account_id"]
    admin = edge.sign_in(*demo_credentials(run)["admin"], totp_secret=demo_totp_secret(run, "admin"))

    answered = ended(edge, "freezeAccount", admin, args={"account_id": account_id}, json={"reason": "drill"})
    refused_everywhere_within(edge, token, answered)


def _replicas(run: MamoriRun, name: str) -> list[ChildProcess]:
    assert run.process is not None
    found = [child for child in uvicorn_children(run.process.pid) if child.name == name]
    assert found, f"no {name} running"
    return found


def _kill(children: list[ChildProcess]) -> None:
    for child in children:
        os.kill(child.pid, signal.SIGKILL)
    wait_until(lambda: not any(is_running(child.pid) for child in children), what="the replicas gone")


def _all_back(run: MamoriRun, killed: list[ChildProcess]) -> bool:
    """Every killed replica started again (a new pid) and ready."""
    old = {child.pid for child in killed}
    assert run.process is not None
    new = [c for c in uvicorn_children(run.process.pid) if c.name == killed[0].name and c.pid not in old]
    if len(new) < len(killed):
        return False
    try:
        return all(httpx.get(f"{child.url}/readyz", timeout=2).status_code == 200 for child in new)
    except httpx.HTTPError:
        return False


def test_with_auth_down_a_revoked_token_stays_refused_and_a_live_one_works(run: MamoriRun, edge: Edge) -> None:
    email = edge.customer()
    revoked, live = edge.sign_in(email), edge.sign_in(email)
    refused_everywhere_within(edge, revoked, ended(edge, "logout", revoked))
    for _ in range(2):  # every replica has auth's keys before auth goes
        assert edge.call("listCases", live).status_code == 200
        assert edge.call("listOrders", live).status_code == 200

    auth = _replicas(run, "auth")
    _kill(auth)
    try:
        for operation in ("listOrders", "listCases", "listOrders", "listCases"):
            refused = edge.call(operation, revoked)
            assert refused.status_code == 401 and refused.json()["code"] == "session_revoked", refused.text
            assert edge.call(operation, live).status_code == 200, f"{operation} with a live session, auth down"
        time.sleep(1)  # a few failed pulls later, nothing is forgotten
        assert edge.call("listOrders", revoked).json()["code"] == "session_revoked"
        assert edge.call("listCases", revoked).json()["code"] == "session_revoked"
    finally:
        wait_until(lambda: _all_back(run, auth), timeout=RESTART_DELAY_SECONDS + 60, what="auth back")
        time.sleep(UPSTREAM_KEEPALIVE_SECONDS + 1)  # the edge drops its connections to the dead ones


def test_after_orders_restarts_a_revoked_token_stays_refused(run: MamoriRun, edge: Edge) -> None:
    email = edge.customer()
    revoked, live = edge.sign_in(email), edge.sign_in(email)
    refused_everywhere_within(edge, revoked, ended(edge, "logout", revoked))

    orders = _replicas(run, "orders")
    _kill(orders)
    wait_until(lambda: _all_back(run, orders), timeout=RESTART_DELAY_SECONDS + 60, what="orders back")
    time.sleep(UPSTREAM_KEEPALIVE_SECONDS + 1)  # the edge drops its connections to the dead ones

    for _ in range(2):  # each restarted replica
        refused = edge.call("listOrders", revoked)
        assert refused.status_code == 401 and refused.json()["code"] == "session_revoked", refused.text
        assert_refused({"placeOrder": edge.place_top_up(revoked)})
        assert edge.call("listOrders", live).status_code == 200
