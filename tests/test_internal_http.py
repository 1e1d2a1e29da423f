"""The kit's client-side balancer for internal calls (``mamori_common/internal_http.py``).

The replicas are httpx mock transports standing in for processes: one that refuses connections
is a killed replica, one that answers 500 a broken one. Which replica a call reached is what a
user would notice: a call that only ever went to the first replica failed while it was down.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from mamori_common.internal_http import ServiceReplicas, send, send_sync
from mamori_common.settings import CommonSettings

REPLICAS = ["http://replica-a:8000", "http://replica-b:8000"]


class Fleet:
    """Two replicas behind one transport; ``down`` refuse connections, ``failing`` answer 500."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.failing: set[str] = set()
        self.reached: Counter[str] = Counter()

    def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        self.reached[host] += 1
        if host in self.failing:
            return httpx.Response(500, json={"code": "internal_error"})
        return httpx.Response(200, json={"replica": host})


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()


def _replicas() -> ServiceReplicas:
    return ServiceReplicas(lambda service: REPLICAS, cooldown=60)


def test_the_upstream_list_is_every_process_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAMORI_AUTH_URL", "http://replica-a:8000")
    monkeypatch.setenv("MAMORI_AUTH_UPSTREAMS", ",".join(REPLICAS))
    replicas = ServiceReplicas.from_settings(CommonSettings())
    assert [replica.url for replica in replicas.of("auth").replicas] == REPLICAS
    assert [replica.url for replica in replicas.of("orders").replicas] == ["http://127.0.0.1:8003"]


def test_calls_are_spread_over_every_replica(fleet: Fleet) -> None:
    replicas = _replicas().of("auth")
    with httpx.Client(transport=httpx.MockTransport(fleet.handle)) as client:
        for _ in range(10):
            assert send_sync(client, replicas, "GET", "/internal/x").status_code == 200
    assert fleet.reached == {"replica-a": 5, "replica-b": 5}


def test_a_dead_replica_is_passed_over_at_once_and_then_left_alone(fleet: Fleet) -> None:
    fleet.down.add("replica-a")
    replicas = _replicas().of("auth")
    with httpx.Client(transport=httpx.MockTransport(fleet.handle)) as client:
        answers = [send_sync(client, replicas, "GET", "/internal/x") for _ in range(6)]
    assert [answer.json()["replica"] for answer in answers] == ["replica-b"] * 6
    # Marked down after its first refusal: the other five calls did not try it first.
    assert replicas.replicas[0].down_until > 0


def test_a_post_goes_on_only_when_it_never_reached_the_replica(fleet: Fleet) -> None:
    replicas = _replicas().of("orders")

    async def scenario() -> tuple[list[int], list[int]]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(fleet.handle)) as client:
            fleet.down.add("replica-a")
            refused_first = [(await send(client, replicas, "POST", "/api/x")).status_code for _ in range(2)]
            fleet.down.clear()
            for replica in replicas.replicas:
                replicas.mark_up(replica)
            fleet.failing.add("replica-a")
            failed_first = [(await send(client, replicas, "POST", "/api/x")).status_code for _ in range(2)]
            return refused_first, failed_first

    refused_first, failed_first = asyncio.run(scenario())
    assert refused_first == [200, 200], "a refused connection is tried on the other replica"
    # A POST that reached a replica which then failed is not sent again elsewhere (it may have
    # done something); the caller hears the 500. The next call goes to the healthy replica.
    assert sorted(failed_first) == [200, 500]
    assert fleet.reached["replica-a"] == 1


def test_an_idempotent_delivery_goes_on_after_a_5xx(fleet: Fleet) -> None:
    fleet.failing.add("replica-a")
    replicas = _replicas().of("verification")

    async def deliver() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(fleet.handle)) as client:
            return [
                (await send(client, replicas, "POST", "/internal/events", retry_in_flight=True)).status_code
                for _ in range(4)
            ]

    assert asyncio.run(deliver()) == [200] * 4


def test_every_replica_down_raises_and_recovers_when_one_is_back(fleet: Fleet) -> None:
    fleet.down.update({"replica-a", "replica-b"})
    replicas = _replicas().of("auth")
    with httpx.Client(transport=httpx.MockTransport(fleet.handle)) as client:
        with pytest.raises(httpx.ConnectError):
            send_sync(client, replicas, "GET", "/internal/x")
        fleet.down.discard("replica-b")
        # Both are cooling down, so both are tried anyway: no wait for the cool-down to end.
        assert send_sync(client, replicas, "GET", "/internal/x").json()["replica"] == "replica-b"
