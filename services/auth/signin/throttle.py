"""Counters of failed attempts and spent quotas, shared by every replica.

The counting is the ``limits`` library's: moving windows (exact sliding windows of timestamps) in
memory by default, or in Redis when ``MAMORI_REDIS_URL`` is set, so all replicas see the same
counts. Windows run on the wall clock (``limits`` reads it itself), unlike the durable account
state (streaks, locks), which follows the app clock.

What the counts mean (when a client waits, when an account is "under attack") is decided in
:mod:`services.auth.signin.policy`; this module only counts, and answers "how long to wait".

Keys never hold an e-mail address: accounts are counted under a digest of the normalised address,
so an address nobody registered is counted exactly like a real one (no enumeration through the
throttle), and a Redis dump reveals no addresses.

If the shared store fails, the throttle fails open and logs it: the durable guards in the
database (the consecutive-failure cap, step-ups, locks) still bound guessing, and nobody is shut
out because Redis is down.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from services.auth.config import AuthSettings
from services.auth.signin import policy

logger = logging.getLogger("mamori.auth.throttle")
T = TypeVar("T")


def account_key(email: str) -> str:
    """The key an account is counted under: a digest of the address, real account or not."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class Throttle:
    """Failed-attempt counters per client address, per account and per (account, address)."""

    def __init__(self, settings: AuthSettings, storage: Storage | None = None) -> None:
        self.settings = settings
        if storage is None:
            if settings.redis_url:
                storage = storage_from_string(
                    settings.redis_url, key_prefix=settings.throttle_key_prefix, wrap_exceptions=True
                )
            else:
                storage = MemoryStorage()
        self.storage = storage
        self.moving = MovingWindowRateLimiter(storage)
        self.fixed = FixedWindowRateLimiter(storage)
        s = settings
        #: Failures per client address: the growing delays and the hard cap read this one.
        self.client_failures = RateLimitItemPerSecond(s.throttle_ip_failures_per_window, s.throttle_client_window_seconds)
        self.account_client_failures = RateLimitItemPerSecond(
            s.throttle_account_ip_failures_per_window, s.throttle_client_window_seconds
        )
        #: Failures on an account from clients it never succeeded from ("under attack").
        self.foreign_failures = RateLimitItemPerSecond(
            max(s.max_consecutive_failures, s.step_up_after_account_failures), s.step_up_window_seconds
        )

    @property
    def shared(self) -> bool:
        return not isinstance(self.storage, MemoryStorage)

    # -- the client delay --------------------------------------------------------------------

    def client_wait(self, ip: str) -> int:
        """Seconds this client address must wait before its next attempt (0: go ahead)."""
        return self._safe(lambda: self._client_wait(ip), 0)

    def _client_wait(self, ip: str) -> int:
        failures = self._count(self.client_failures, "client", ip)
        if failures >= self.client_failures.amount:
            return self._until_reset(self.moving, self.client_failures, "client", ip)
        delay = policy.client_delay_seconds(failures, self.settings)
        if delay == 0:
            return 0
        cooldown = RateLimitItemPerSecond(1, delay)
        if self.fixed.test(cooldown, "cooldown", ip):
            return 0
        return self._until_reset(self.fixed, cooldown, "cooldown", ip)

    def client_capped(self, ip: str) -> int:
        """Seconds until the hard cap of the address frees a slot (0 when below it)."""

        def check() -> int:
            if self._count(self.client_failures, "client", ip) >= self.client_failures.amount:
                return self._until_reset(self.moving, self.client_failures, "client", ip)
            return 0

        return self._safe(check, 0)

    def account_client_wait(self, key: str, ip: str) -> int:
        """Seconds until this address may try this account again (0: go ahead)."""

        def check() -> int:
            if self.moving.test(self.account_client_failures, "account-client", key, ip):
                return 0
            return self._until_reset(self.moving, self.account_client_failures, "account-client", key, ip)

        return self._safe(check, 0)

    # -- counting ------------------------------------------------------------------------------

    def record_failure(self, ip: str, key: str | None, *, foreign: bool) -> None:
        """Count one failed attempt; start the client's cool-down when it is past its free ones."""

        def count() -> None:
            self.moving.hit(self.client_failures, "client", ip)
            failures = self._count(self.client_failures, "client", ip)
            delay = policy.client_delay_seconds(failures, self.settings)
            if delay:
                self.fixed.hit(RateLimitItemPerSecond(1, delay), "cooldown", ip)
            if key is not None:
                self.moving.hit(self.account_client_failures, "account-client", key, ip)
                if foreign:
                    self.moving.hit(self.foreign_failures, "foreign", key)

        self._safe(count, None)

    def foreign_failure_count(self, key: str) -> int:
        return self._safe(lambda: self._count(self.foreign_failures, "foreign", key), 0)

    def forget_account(self, key: str, ip: str) -> None:
        """The owner proved who they are: the account is no longer under attack from the past."""

        def clear() -> None:
            self.moving.clear(self.foreign_failures, "foreign", key)
            self.moving.clear(self.account_client_failures, "account-client", key, ip)

        self._safe(clear, None)

    def spend(self, name: str, amount: int, window_seconds: int, *identifiers: str) -> int:
        """Spend one unit of a quota (``amount`` per ``window_seconds``, moving window).

        Returns 0 when it was spent, else the seconds until one frees up. For mail quotas and
        per-address request limits of any auth route.
        """
        item = RateLimitItemPerSecond(amount, window_seconds)

        def take() -> int:
            if self.moving.hit(item, name, *identifiers):
                return 0
            return self._until_reset(self.moving, item, name, *identifiers)

        return self._safe(take, 0)

    def reset(self) -> None:
        """Forget every count (memory storage: tests; Redis: everything under the key prefix)."""
        self.storage.reset()

    # -- helpers -------------------------------------------------------------------------------

    def _count(self, item: RateLimitItem, *identifiers: str) -> int:
        stats = self.moving.get_window_stats(item, *identifiers)
        return item.amount - stats.remaining

    @staticmethod
    def _until_reset(limiter: Any, item: RateLimitItem, *identifiers: str) -> int:
        stats = limiter.get_window_stats(item, *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))

    @staticmethod
    def _safe(action: Callable[[], T], fallback: T) -> T:
        try:
            return action()
        except StorageError:
            logger.exception("throttle store unavailable: failing open")
            return fallback


_creating = threading.Lock()


def throttle_of(app: FastAPI) -> Throttle:
    """The app's throttle, made on first use from its settings (one per process)."""
    throttle: Throttle | None = getattr(app.state, "throttle", None)
    if throttle is None:
        with _creating:
            throttle = getattr(app.state, "throttle", None)
            if throttle is None:
                throttle = Throttle(app.state.settings)
                app.state.throttle = throttle
    return throttle
