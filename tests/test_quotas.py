"""The kit's one limiter (mamori_common/quotas.py): spending, waiting, windows running out, and the
one documented behaviour when the store is down (fail open, logged and counted)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from mamori_common.clock import ManualClock
from mamori_common.quotas import Quota, Quotas, rate_limited

QUOTA = Quota("code-mail", 2, 3600)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def memory_quotas(clock: ManualClock) -> Quotas:
    return Quotas.from_url(None, "unused", registry=CollectorRegistry(), clock=clock)


def test_a_quota_is_spent_then_refused_until_its_window_frees_a_unit(clock: ManualClock) -> None:
    quotas = memory_quotas(clock)
    assert [quotas.spend(QUOTA, "acct") for _ in range(2)] == [0, 0]
    assert quotas.spend(QUOTA, "acct") == 3600 and quotas.wait(QUOTA, "acct") == 3600
    assert quotas.spend(QUOTA, "other") == 0  # counted per identifier
    clock.advance(seconds=1800)
    assert quotas.wait(QUOTA, "acct") == 1800
    clock.advance(seconds=1801)
    assert quotas.wait(QUOTA, "acct") == 0 and quotas.spend(QUOTA, "acct") == 0


def test_failures_are_counted_even_past_the_amount_and_can_be_cleared(clock: ManualClock) -> None:
    quotas = memory_quotas(clock)
    for _ in range(3):
        quotas.add(QUOTA, "acct")
    assert quotas.used(QUOTA, "acct") == 2 and quotas.wait(QUOTA, "acct") > 0
    quotas.clear(QUOTA, "acct")
    assert quotas.used(QUOTA, "acct") == 0


def test_a_cool_down_runs_out(clock: ManualClock) -> None:
    quotas = memory_quotas(clock)
    assert quotas.cooldown_left("cooldown", 4, "ip") == 0
    quotas.start_cooldown("cooldown", 4, "ip")
    assert quotas.cooldown_left("cooldown", 4, "ip") == 4
    clock.advance(seconds=4)
    assert quotas.cooldown_left("cooldown", 4, "ip") == 0


def test_when_the_store_is_down_every_quota_fails_open_and_says_so() -> None:
    registry = CollectorRegistry()
    broken = Quotas.from_url("redis://127.0.0.1:1/0", f"mamori-test-{uuid.uuid4().hex}", registry=registry)
    for _ in range(3):
        assert broken.spend(QUOTA, "acct") == 0
    assert broken.wait(QUOTA, "acct") == 0 and broken.used(QUOTA, "acct") == 0
    assert registry.get_sample_value("mamori_quota_store_errors_total") == 5


def test_the_answer_is_a_429_with_retry_after() -> None:
    problem = rate_limited(42)
    assert (problem.status, problem.code, problem.headers["Retry-After"], problem.extra["retry_after"]) == (
        429,
        "rate_limited",
        "42",
        42,
    )


@pytest.mark.redis
def test_replicas_sharing_redis_share_the_counts(redis_url: str) -> None:
    prefix = f"mamori-test-{uuid.uuid4().hex}"
    first = Quotas.from_url(redis_url, prefix, registry=CollectorRegistry())
    second = Quotas.from_url(redis_url, prefix, registry=CollectorRegistry())
    try:
        assert first.spend(QUOTA, "acct") == 0 and second.spend(QUOTA, "acct") == 0
        assert first.spend(QUOTA, "acct") > 0 and second.wait(QUOTA, "acct") > 0
    finally:
        first.reset()


@pytest.mark.redis
def test_windows_in_redis_run_on_the_app_clock(redis_url: str) -> None:
    # On a whole second: Redis keeps the timestamps with less precision than a float.
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    quotas = Quotas.from_url(redis_url, f"mamori-test-{uuid.uuid4().hex}", registry=CollectorRegistry(), clock=clock)
    try:
        assert [quotas.spend(QUOTA, "acct") for _ in range(3)] == [0, 0, 3600]
        quotas.start_cooldown("cooldown", 30, "ip")
        clock.advance(seconds=1800)
        assert quotas.wait(QUOTA, "acct") == 1800 and quotas.cooldown_left("cooldown", 30, "ip") == 0
        clock.advance(seconds=1801)
        assert quotas.spend(QUOTA, "acct") == 0
    finally:
        quotas.reset()
