"""An ended session's access token stops at orders and verification within a second (real processes).

On main the token of a session ended by logout, "sign out everywhere" or a freeze kept working at
orders and verification for the rest of its ten minutes (``placeOrder`` of a 50,000-yen top-up
after "sign out everywhere"; ``listCases`` and ``requestCallback`` after a freeze), because they
checked only its signature. Here ``mamori run`` runs the real processes and every call goes
through the edge: after each way of ending a session, ``placeOrder``, ``listOrders``, ``listCases``
and ``requestCallback`` answer the old token ``401 session_revoked`` (a problem document) within a
second, while a live session's token still works. With auth killed, the revoked token stays refused
and a live one still reads; after orders is killed and started again by the supervisor, the
revoked token is still refused.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mamori_common.problems import PROBLEM_MEDIA_TYPE
from tests.support.processes import ChildProcess, MamoriRun, is_running, uvicorn_children
from tests.support.servers import wait_until
from tests.test_system import STRONG_PASSWORD, demo_credentials, operations

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

    def sign_in(self, email: str, password: str = STRONG_PASSWORD) -> str:
        signed_in = self.call("login", json={"email": email, "password": password})
        assert signed_in.status_code == 200, signed_in.text
        return str(signed_in.json()["access_token"])

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


def refused_everywhere_within(edge: Edge, token: str, started: float) -> float:
    """Seconds from ``started`` until all four operations refuse ``token``; fails past the promise."""

    def refused() -> bool:
        return all(edge.call(operation, token).status_code == 401 for operation in ("listOrders", "listCases"))

    wait_until(refused, timeout=WITHIN_SECONDS, interval=0.01, what="the old token refused at orders and verification")
    elapsed = time.monotonic() - started
    assert_refused(edge.each_operation(token))
    return elapsed


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MamoriRun]:
    env = {"MAMORI_RESTART_FIRST_DELAY_SECONDS": str(RESTART_DELAY_SECONDS)}
    deployment = MamoriRun(tmp_path_factory.mktemp("revocation") / "var", env=env)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.close()


@pytest.fixture(scope="module")
def edge(run: MamoriRun) -> Iterator[Edge]:
    with httpx.Client(base_url=run.gateway_url, timeout=30) as client:
        yield Edge(client)


def test_a_logged_out_token_is_refused_everywhere_within_a_second(edge: Edge) -> None:
    email = edge.customer()
    token, other = edge.sign_in(email), edge.sign_in(email)
    assert edge.call("listOrders", token).status_code == 200
    assert edge.call("listCases", token).status_code == 200

    started = time.monotonic()
    assert edge.call("logout", token).status_code == 204
    refused_everywhere_within(edge, token, started)
    assert edge.call("listOrders", other).status_code == 200, "the same account's other session goes on"


def test_sign_out_everywhere_stops_a_50000_yen_top_up_from_the_other_sessions(edge: Edge) -> None:
    email = edge.customer()
    intruder, owner = edge.sign_in(email), edge.sign_in(email)

    started = time.monotonic()
    ended = edge.call("revokeSessions", owner, json={"all_but_current": True})
    assert ended.status_code == 200, ended.text
    refused_everywhere_within(edge, intruder, started)
    orders = edge.call("listOrders", owner)
    assert orders.status_code == 200
    assert orders.json()["items"] == [], "the intruder's top-up was never taken"


def test_a_freeze_stops_list_cases_and_request_callback_within_a_second(run: MamoriRun, edge: Edge) -> None:
    email = edge.customer()
    token = edge.sign_in(email)
    account_id = edge.call("getMe", token).json()["account_id"]
    admin = edge.sign_in(*demo_credentials(run)["admin"])

    started = time.monotonic()
    frozen = edge.call("freezeAccount", admin, {"account_id": account_id}, json={"reason": "revocation drill"})
    assert frozen.status_code == 200, frozen.text
    refused_everywhere_within(edge, token, started)


def _child(run: MamoriRun, name: str) -> ChildProcess:
    assert run.process is not None
    (found,) = [child for child in uvicorn_children(run.process.pid) if child.name == name]
    return found


def _kill(child: ChildProcess) -> None:
    os.kill(child.pid, signal.SIGKILL)
    wait_until(lambda: not is_running(child.pid), what=f"{child.name} gone")


def _serving(run: MamoriRun, name: str, old_pid: int) -> ChildProcess | None:
    assert run.process is not None
    for child in uvicorn_children(run.process.pid):
        if child.name == name and child.pid != old_pid:
            try:
                if httpx.get(f"{child.url}/readyz", timeout=2).status_code == 200:
                    return child
            except httpx.HTTPError:
                return None
    return None


def test_with_auth_down_a_revoked_token_stays_refused_and_a_live_one_works(run: MamoriRun, edge: Edge) -> None:
    email = edge.customer()
    revoked, live = edge.sign_in(email), edge.sign_in(email)
    assert edge.call("logout", revoked).status_code == 204
    wait_until(lambda: edge.call("listOrders", revoked).status_code == 401, timeout=WITHIN_SECONDS)
    assert edge.call("listCases", live).status_code == 200  # the keys are fetched before auth goes

    auth = _child(run, "auth")
    _kill(auth)
    try:
        for operation in ("listOrders", "listCases"):
            refused = edge.call(operation, revoked)
            assert refused.status_code == 401 and refused.json()["code"] == "session_revoked", refused.text
            assert edge.call(operation, live).status_code == 200, f"{operation} with a live session, auth down"
        time.sleep(1)  # a few failed pulls later, nothing is forgotten
        assert edge.call("listOrders", revoked).json()["code"] == "session_revoked"
        assert edge.call("listCases", revoked).json()["code"] == "session_revoked"
    finally:
        wait_until(lambda: _serving(run, "auth", auth.pid), timeout=RESTART_DELAY_SECONDS + 60, what="auth back")


def test_after_orders_restarts_a_revoked_token_stays_refused(run: MamoriRun, edge: Edge) -> None:
    email = edge.customer()
    revoked, live = edge.sign_in(email), edge.sign_in(email)
    assert edge.call("logout", revoked).status_code == 204
    wait_until(lambda: edge.call("listOrders", revoked).status_code == 401, timeout=WITHIN_SECONDS)

    orders = _child(run, "orders")
    _kill(orders)
    wait_until(lambda: _serving(run, "orders", orders.pid), timeout=RESTART_DELAY_SECONDS + 60, what="orders back")

    refused = edge.call("listOrders", revoked)
    assert refused.status_code == 401 and refused.json()["code"] == "session_revoked", refused.text
    assert_refused({"placeOrder": edge.place_top_up(revoked)})
    assert edge.call("listOrders", live).status_code == 200
