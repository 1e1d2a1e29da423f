"""The one limiter every quota of every service goes through (rate limits, failure counts, mail caps).

Built on the ``limits`` library: moving windows (exact sliding windows of timestamps) and fixed
windows, in memory by default or in Redis when ``MAMORI_REDIS_URL`` is set, so every replica of a
service shares the counts. Windows run on the wall clock (``limits`` and Redis read it
themselves); durable account state (streaks, locks, cool-downs) follows the app clock instead.

What a quota *means* (when a client waits, when an account is under attack) is decided by the
domain that names it; this module only counts and answers "how long to wait".

**When the store is down** (Redis unreachable, or any storage error) every call fails open: a
spend is allowed, a count reads 0, a wait is 0. The failure is logged and counted in
``mamori_quota_store_errors_total`` so an operator sees it. Failing open is the decision because
every quota here guards a durable check that still holds without it (passwords are verified,
codes are single-use and capped per challenge, locks and step-ups live in the database), while
failing closed would shut every customer out whenever Redis blinks.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter
from prometheus_client import CollectorRegistry, Counter

from mamori_common.problems import Problem

logger = logging.getLogger("mamori.quotas")
T = TypeVar("T")


@dataclass(frozen=True)
class Quota:
    """``amount`` uses per ``window_seconds`` (moving window), under ``name``."""

    name: str
    amount: int
    window_seconds: int

    @property
    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.amount, self.window_seconds)


def rate_limited(seconds: int, detail: str | None = None) -> Problem:
    """The one 429 every quota answers with: ``rate_limited`` and a Retry-After."""
    return Problem(
        429,
        "rate_limited",
        detail or f"Too many attempts. Try again in {seconds} seconds.",
        headers={"Retry-After": str(seconds)},
        retry_after=seconds,
    )


class Quotas:
    """A service's counters. One per process (``app.state.quotas``), shared by every domain."""

    def __init__(self, storage: Storage, *, registry: CollectorRegistry | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.moving = MovingWindowRateLimiter(storage)
        self.fixed = FixedWindowRateLimiter(storage)
        self._wall_clock = wall_clock
        self.store_errors = Counter(
            "mamori_quota_store_errors_total",
            "Quota checks answered without the store (failed open)",
            registry=registry,
        )

    @classmethod
    def from_url(cls, redis_url: str | None, key_prefix: str, *,
                 registry: CollectorRegistry | None = None) -> Quotas:
        """Redis under ``key_prefix`` when a URL is given, else this process's memory."""
        if redis_url:
            storage = storage_from_string(redis_url, key_prefix=key_prefix, wrap_exceptions=True)
        else:
            storage = MemoryStorage()
        return cls(storage, registry=registry)

    @property
    def shared(self) -> bool:
        return not isinstance(self.storage, MemoryStorage)

    # -- moving windows ------------------------------------------------------------------------

    def spend(self, quota: Quota, *identifiers: str) -> int:
        """Use one unit: 0 when it was there, else the seconds until one frees up (nothing used)."""

        def take() -> int:
            if self.moving.hit(quota.item, quota.name, *identifiers):
                return 0
            return self._until_reset(self.moving, quota.item, quota.name, *identifiers)

        return self._safe(take, 0)

    def wait(self, quota: Quota, *identifiers: str) -> int:
        """Seconds until one unit is free (0: there is one now); uses nothing."""

        def check() -> int:
            if self.moving.test(quota.item, quota.name, *identifiers):
                return 0
            return self._until_reset(self.moving, quota.item, quota.name, *identifiers)

        return self._safe(check, 0)

    def add(self, quota: Quota, *identifiers: str) -> None:
        """Count one use whether or not the quota had room (failures are counted, never refused)."""
        self._safe(lambda: self.moving.hit(quota.item, quota.name, *identifiers), False)

    def used(self, quota: Quota, *identifiers: str) -> int:
        def count() -> int:
            stats = self.moving.get_window_stats(quota.item, quota.name, *identifiers)
            return quota.amount - stats.remaining

        return self._safe(count, 0)

    def clear(self, quota: Quota, *identifiers: str) -> None:
        self._safe(lambda: self.moving.clear(quota.item, quota.name, *identifiers), None)

    # -- cool-downs (fixed windows of one use) -------------------------------------------------

    def start_cooldown(self, name: str, seconds: int, *identifiers: str) -> None:
        item = RateLimitItemPerSecond(1, seconds)
        self._safe(lambda: self.fixed.hit(item, name, *identifiers), False)

    def cooldown_left(self, name: str, seconds: int, *identifiers: str) -> int:
        """Seconds left of a cool-down of ``seconds`` started under ``name`` (0: none running)."""
        item = RateLimitItemPerSecond(1, seconds)

        def check() -> int:
            if self.fixed.test(item, name, *identifiers):
                return 0
            return self._until_reset(self.fixed, item, name, *identifiers)

        return self._safe(check, 0)

    def reset(self) -> None:
        """Forget every count (memory: this process; Redis: everything under the key prefix)."""
        self._safe(self.storage.reset, None)

    # -- helpers -------------------------------------------------------------------------------

    def _until_reset(self, limiter: RateLimiter, item: RateLimitItem, *identifiers: str) -> int:
        stats = limiter.get_window_stats(item, *identifiers)
        return max(1, min(item.get_expiry(), math.ceil(stats.reset_time - self._wall_clock())))

    def _safe(self, action: Callable[[], T], fallback: T) -> T:
        try:
            return action()
        except StorageError:
            self.store_errors.inc()
            logger.exception("quota store unavailable: failing open")
            return fallback
