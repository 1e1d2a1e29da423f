"""The one limiter every quota of every service goes through (rate limits, failure counts, mail caps).

Built on the ``limits`` library: moving windows (exact sliding windows of timestamps), in memory
by default or in Redis when ``MAMORI_REDIS_URL`` is set, so every replica of a service shares the
counts. Every window, cool-downs included (a moving window of one), runs on the app clock
(:mod:`mamori_common.clock`) like every other time rule, so a test moves time instead of sleeping:
``limits`` reads ``time.time()`` itself, so its two storages are given the clock's timestamp
(:class:`ClockedMemoryStorage`, :class:`ClockedRedisStorage`: the same data and Lua scripts).

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

import bisect
import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, MovingWindowSupport, RedisStorage, Storage
from limits.storage.memory import Entry
from limits.strategies import MovingWindowRateLimiter
from prometheus_client import CollectorRegistry, Counter

from mamori_common.clock import Clock, SystemClock
from mamori_common.problems import Problem

logger = logging.getLogger("mamori.quotas")
T = TypeVar("T")


@dataclass(frozen=True)
class Quota:
    """``amount`` uses per ``window_seconds`` (moving window), under ``name``."""

    name: str
    amount: int
    window_seconds: int

    @functools.cached_property
    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.amount, self.window_seconds)

    @functools.cached_property
    def _key_ends(self) -> tuple[str, str]:
        item = self.item
        return f"{item.namespace}/{self.name}", f"{item.amount}/{item.multiples}/{item.GRANULARITY.name}"

    def key(self, *identifiers: str) -> str:
        """The storage key of this quota for ``identifiers``: ``limits``' own key
        (``item.key_for(name, *identifiers)``), with its fixed ends made once."""
        head, tail = self._key_ends
        return "/".join((head, *identifiers, tail))


@functools.lru_cache(maxsize=256)
def _cooldown(name: str, seconds: int) -> Quota:
    """A cool-down is a moving window of one use (a few lengths per name: made once each)."""
    return Quota(name, 1, seconds)


def wait_in_words(seconds: int) -> str:
    """A wait as a person reads it: whole minutes, rounded up (never a bare count of seconds)."""
    minutes = max(1, math.ceil(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def rate_limited(seconds: int, detail: str | None = None, **members: Any) -> Problem:
    """The one 429 every quota answers with: ``rate_limited`` and a Retry-After (seconds, for
    machines); the detail says the wait in minutes. ``members`` are extra problem members, e.g. a
    ``reason`` when the refusal is not a plain throttle and the page must say something else."""
    return Problem(
        429,
        "rate_limited",
        detail or f"Too many attempts. Try again in {wait_in_words(seconds)}.",
        headers={"Retry-After": str(seconds)},
        retry_after=seconds,
        **members,
    )


class ClockedMemoryStorage(MemoryStorage):
    """``limits``' memory storage with its moving windows timed by ``now`` (the app clock).

    Only when an entry is dropped from memory follows the process clock (the parent's pruning
    timer), never whether it counts."""

    def __init__(self, now: Callable[[], float]) -> None:
        super().__init__()
        self._now = now

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        self._MemoryStorage__schedule_expiry()  # type: ignore[attr-defined]  # the parent's pruning
        with self.locks[key]:
            events = self.events.setdefault(key, [])
            timestamp = self._now()
            limiting = events[limit - amount] if len(events) > limit - amount else None
            if limiting is not None and limiting.atime >= timestamp - expiry:
                return False
            entry = Entry(expiry)  # its ``expiry`` stays on the process clock: the parent prunes by it
            entry.atime = timestamp  # what every decision reads
            events[:0] = [entry] * amount
            del events[limit:]  # older entries never decide anything (as the Redis script trims)
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        timestamp = self._now()
        if events := self.events.get(key, []):  # newest first
            inside = bisect.bisect_left(events, -(timestamp - expiry), key=lambda entry: -entry.atime)
            if inside:
                return events[inside - 1].atime, inside
        return timestamp, 0


class ClockedRedisStorage(RedisStorage):
    """``limits``' Redis storage with its moving windows timed by ``now`` (the app clock); the
    library's own Lua scripts, given the clock's timestamp instead of the process's."""

    def __init__(self, uri: str, now: Callable[[], float], **options: Any) -> None:
        super().__init__(uri, **options)
        self._now = now

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return bool(self.lua_acquire_moving_window([self.prefixed_key(key)], [self._now(), limit, expiry, amount]))

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        timestamp = self._now()
        if window := self.lua_moving_window([self.prefixed_key(key)], [timestamp - expiry, limit]):
            return float(window[0]), window[1]
        return timestamp, 0


class Quotas:
    """A service's counters. One per process (``app.state.quotas``), shared by every domain."""

    def __init__(
        self, storage: Storage, *, registry: CollectorRegistry | None = None, clock: Clock | None = None
    ) -> None:
        self.storage = storage
        self.moving = MovingWindowRateLimiter(storage)
        self._clock = clock or SystemClock()
        self.store_errors = Counter(
            "mamori_quota_store_errors_total",
            "Quota checks answered without the store (failed open)",
            registry=registry,
        )

    @classmethod
    def from_url(
        cls,
        redis_url: str | None,
        key_prefix: str,
        *,
        registry: CollectorRegistry | None = None,
        clock: Clock | None = None,
    ) -> Quotas:
        """Redis under ``key_prefix`` when a URL is given, else this process's memory; windows on
        ``clock`` (the app's; the system clock when None)."""
        clock = clock or SystemClock()

        def now() -> float:
            return clock.now().timestamp()

        storage: Storage
        if redis_url:
            storage = ClockedRedisStorage(redis_url, now, key_prefix=key_prefix, wrap_exceptions=True)
        else:
            storage = ClockedMemoryStorage(now)
        return cls(storage, registry=registry, clock=clock)

    @property
    def shared(self) -> bool:
        return not isinstance(self.storage, MemoryStorage)

    # -- moving windows ------------------------------------------------------------------------

    def spend(self, quota: Quota, *identifiers: str) -> int:
        """Use one unit: 0 when it was there, else the seconds until one frees up (nothing used)."""

        def take() -> int:
            if self.moving.hit(quota.item, quota.name, *identifiers):
                return 0
            start, _count = self._window(quota, identifiers)
            return self._seconds_until(start + quota.window_seconds, quota)

        return self._safe(take, 0)

    def wait(self, quota: Quota, *identifiers: str) -> int:
        """Seconds until one unit is free (0: there is one now); uses nothing."""

        def check() -> int:
            start, count = self._window(quota, identifiers)
            return 0 if count < quota.amount else self._seconds_until(start + quota.window_seconds, quota)

        return self._safe(check, 0)

    def add(self, quota: Quota, *identifiers: str) -> None:
        """Count one use whether or not the quota had room (failures are counted, never refused)."""
        self._safe(lambda: self.moving.hit(quota.item, quota.name, *identifiers), False)

    def used(self, quota: Quota, *identifiers: str) -> int:
        return self._safe(lambda: self._window(quota, identifiers)[1], 0)

    def used_or_none(self, quota: Quota, *identifiers: str) -> int | None:
        """:meth:`used`, or None when the store did not answer: for a count whose loss must not
        read as "no failures" (the caller falls back to its own durable record)."""
        return self._safe(lambda: self._window(quota, identifiers)[1], None)

    def usage(self, quota: Quota, *identifiers: str) -> tuple[int, int]:
        """(:meth:`used`, :meth:`wait`) from one read of the store."""

        def read() -> tuple[int, int]:
            start, count = self._window(quota, identifiers)
            wait = 0 if count < quota.amount else self._seconds_until(start + quota.window_seconds, quota)
            return count, wait

        return self._safe(read, (0, 0))

    def clear(self, quota: Quota, *identifiers: str) -> None:
        self._safe(lambda: self.moving.clear(quota.item, quota.name, *identifiers), None)

    # -- cool-downs (a moving window of one use) -----------------------------------------------

    def start_cooldown(self, name: str, seconds: int, *identifiers: str) -> None:
        """Start a cool-down of ``seconds`` under ``name`` unless one of that length is running."""
        self.spend(_cooldown(name, seconds), *identifiers)

    def cooldown_left(self, name: str, seconds: int, *identifiers: str) -> int:
        """Seconds left of a cool-down of ``seconds`` started under ``name`` (0: none running)."""
        return self.wait(_cooldown(name, seconds), *identifiers)

    def clear_cooldown(self, name: str, seconds: int, *identifiers: str) -> None:
        """End a cool-down of ``seconds`` started under ``name`` (nothing when none runs)."""
        self.clear(_cooldown(name, seconds), *identifiers)

    def reset(self) -> None:
        """Forget every count (memory: this process; Redis: everything under the key prefix)."""
        self._safe(self.storage.reset, None)

    # -- helpers -------------------------------------------------------------------------------

    def _window(self, quota: Quota, identifiers: tuple[str, ...]) -> tuple[float, int]:
        """(when the oldest counted use happened, how many uses the window holds): one read of the
        store, where ``limits``' ``test`` and ``get_window_stats`` make one each."""
        storage = cast(MovingWindowSupport, self.storage)
        return storage.get_moving_window(quota.key(*identifiers), quota.amount, quota.window_seconds)

    def _seconds_until(self, reset: float, quota: Quota) -> int:
        return max(1, min(quota.window_seconds, math.ceil(reset - self._clock.now().timestamp())))

    def _safe(self, action: Callable[[], T], fallback: T) -> T:
        try:
            return action()
        except StorageError:
            self.store_errors.inc()
            logger.exception("quota store unavailable: failing open")
            return fallback
