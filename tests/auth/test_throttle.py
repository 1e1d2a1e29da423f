"""The sign-in counters (services/auth/signin/throttle.py) on the kit's limiter, in memory and on Redis.

Redis runs only when ``MAMORI_TEST_REDIS_URL`` is set; each test uses a key prefix of its own and
deletes only its own keys afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from mamori_common.clock import ManualClock
from mamori_common.quotas import Quotas
from services.auth.config import AuthSettings
from services.auth.main import create_app
from services.auth.signin.throttle import Throttle, account_key

IP = "198.51.100.7"
OTHER_IP = "198.51.100.8"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def settings(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[AuthSettings]:
    if request.param == "memory":
        yield AuthSettings(data_dir=data_dir)
        return
    url = request.getfixturevalue("redis_url")
    yield AuthSettings(data_dir=data_dir, redis_url=url, quota_key_prefix=f"mamori-test-{uuid.uuid4().hex}")


def throttle_for(settings: AuthSettings, clock: ManualClock | None = None) -> Throttle:
    quotas = Quotas.from_url(
        settings.redis_url, settings.resolved_quota_key_prefix(), registry=CollectorRegistry(), clock=clock
    )
    return Throttle(settings, quotas)


@pytest.fixture
def throttle(settings: AuthSettings) -> Iterator[Throttle]:
    made = throttle_for(settings)
    yield made
    made.reset()  # on Redis: only the keys under this test's prefix


def fail(throttle: Throttle, times: int, *, ip: str = IP, key: str = "k", foreign: bool = True) -> None:
    for _ in range(times):
        throttle.record_failure(ip, key, foreign=foreign)


def test_storage_follows_the_settings(throttle: Throttle, settings: AuthSettings) -> None:
    assert throttle.shared is (settings.redis_url is not None)


def test_a_client_waits_only_after_its_free_failures_and_then_ever_longer(throttle: Throttle) -> None:
    free = throttle.settings.throttle_client_free_failures
    fail(throttle, free)
    assert throttle.client_wait(IP) == 0
    waits = []
    for _ in range(4):
        fail(throttle, 1)
        waits.append(throttle.client_wait(IP))
    base = throttle.settings.throttle_client_base_delay_seconds
    assert waits == [base, 2 * base, 4 * base, 8 * base]
    assert throttle.client_wait(OTHER_IP) == 0  # another client is not delayed


def test_the_delay_runs_out_on_the_app_clock(settings: AuthSettings) -> None:
    clock = ManualClock()
    throttle = throttle_for(settings, clock)
    fail(throttle, settings.throttle_client_free_failures + 1)
    base = settings.throttle_client_base_delay_seconds
    assert throttle.client_wait(IP) == base
    clock.advance(seconds=base - 0.5)
    assert throttle.client_wait(IP) == 1
    clock.advance(seconds=0.51)  # past the end (Redis counts an entry exactly a window old as inside)
    assert throttle.client_wait(IP) == 0


def test_one_account_from_one_address_hits_its_cap_without_touching_others(throttle: Throttle) -> None:
    cap = throttle.settings.throttle_account_ip_failures_per_window
    fail(throttle, cap - 1)
    assert throttle.account_client_wait("k", IP) == 0
    fail(throttle, 1)
    assert throttle.account_client_wait("k", IP) > 0
    assert throttle.account_client_wait("k", OTHER_IP) == 0
    assert throttle.account_client_wait("other", IP) == 0


def test_only_failures_from_unseen_clients_count_toward_an_attack(throttle: Throttle) -> None:
    fail(throttle, 4, foreign=False)
    assert throttle.foreign_failure_count("k") == 0
    fail(throttle, 3, ip=OTHER_IP, foreign=True)
    assert throttle.foreign_failure_count("k") == 3
    throttle.forget_account("k", OTHER_IP)
    assert throttle.foreign_failure_count("k") == 0


def test_accounts_are_counted_under_a_digest_of_the_address() -> None:
    assert account_key(" Hana@Example.com ") == account_key("hana@example.com")
    assert account_key("hana@example.com") != account_key("hana@example.org")


@pytest.mark.redis
def test_no_address_reaches_the_shared_store(redis_url: str, data_dir: Path) -> None:
    """A Redis dump reveals no e-mail address: accounts are counted under a digest."""
    import redis

    prefix = f"mamori-test-{uuid.uuid4().hex}"
    throttle = throttle_for(AuthSettings(data_dir=data_dir, redis_url=redis_url, quota_key_prefix=prefix))
    try:
        throttle.record_failure(IP, account_key("hana@example.com"), foreign=True)
        client = redis.Redis.from_url(redis_url)
        keys = [key.decode() for key in client.scan_iter(match=f"*{prefix}*")]
        client.close()
        assert keys and not any("hana" in key or "example" in key for key in keys)
    finally:
        throttle.reset()


def test_a_failing_store_fails_open(data_dir: Path) -> None:
    broken = throttle_for(AuthSettings(data_dir=data_dir, redis_url="redis://127.0.0.1:1/0"))
    broken.record_failure(IP, "k", foreign=True)
    # The delay fails open; the "under attack" count says it is unknown (None), so the sign-in
    # counts those failures in the database instead (tests/auth/test_signin_without_redis.py).
    assert broken.client_wait(IP) == 0 and broken.foreign_failure_count("k") is None


@pytest.mark.redis
def test_two_replicas_sharing_redis_share_the_counts(tmp_path: Path, redis_url: str) -> None:
    """Failures on one replica delay the client on the other: an attacker cannot spread guesses
    over replicas. (Each app has its own data dir; they share only Redis.)"""
    prefix = f"mamori-test-{uuid.uuid4().hex}"
    apps = []
    start = datetime.now(UTC)  # one moment for both: migrating the second app takes seconds on a busy machine
    for name in ("a", "b"):
        settings = AuthSettings(data_dir=tmp_path / name, redis_url=redis_url, quota_key_prefix=prefix)
        apps.append(create_app(settings, migrate=True, clock=ManualClock(start)))
    with TestClient(apps[0], client=("127.0.0.1", 1)) as first, TestClient(apps[1], client=("127.0.0.1", 2)) as second:

        def guess(client: TestClient, n: int) -> int:
            response = client.post(
                "/api/auth/login",
                headers={"x-forwarded-for": IP},
                json={"email": "nobody@example.com", "password": f"guess-{n}"},
            )
            return response.status_code

        free = apps[0].state.settings.throttle_client_free_failures
        statuses = [guess(first if n % 2 else second, n) for n in range(free + 1)]
        assert statuses == [401] * (free + 1)
        assert guess(first, 100) == 429 and guess(second, 101) == 429
        apps[0].state.quotas.reset()
