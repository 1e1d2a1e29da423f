"""The sign-in counters of story S1: failures per client address, per account and per
(account, address), on the kit's one limiter (:mod:`mamori_common.quotas`: memory, or Redis shared
by every replica; windows on the app clock; fails open, logged and counted, when the store is down:
the durable guards in the database, the consecutive-failure cap, step-ups and locks, still bound
guessing, and nobody is shut out because Redis is down).

What the counts mean (when a client waits, when an account is "under attack") is decided in
:mod:`services.auth.signin.policy`; this module only counts, and answers "how long to wait".

Keys never hold an e-mail address: accounts are counted under a digest of the normalised address,
so an address nobody registered is counted exactly like a real one (no enumeration through the
throttle), and a Redis dump reveals no addresses.
"""

from __future__ import annotations

import hashlib

from fastapi import FastAPI

from mamori_common.quotas import Quota, Quotas
from services.auth.config import AuthSettings
from services.auth.signin import policy

COOLDOWN = "cooldown"


def account_key(email: str) -> str:
    """The key an account is counted under: a digest of the address, real account or not."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class Throttle:
    """Failed-attempt counters per client address, per account and per (account, address)."""

    def __init__(self, settings: AuthSettings, quotas: Quotas) -> None:
        self.settings = settings
        self.quotas = quotas
        s = settings
        #: Failures per client address: the growing delays and the hard cap read this one.
        self.client_failures = Quota("client", s.throttle_ip_failures_per_window, s.throttle_client_window_seconds)
        self.account_client_failures = Quota(
            "account-client", s.throttle_account_ip_failures_per_window, s.throttle_client_window_seconds
        )
        #: Failures on an account from clients it never succeeded from ("under attack").
        self.foreign_failures = Quota(
            "foreign", max(s.max_consecutive_failures, s.step_up_after_account_failures), s.step_up_window_seconds
        )
        #: Every length a client's cool-down can have (one key each), so :meth:`forgive` ends any.
        self._delays = sorted(
            {policy.client_delay_seconds(n, s) for n in range(s.throttle_ip_failures_per_window + 1)} - {0}
        )

    @property
    def shared(self) -> bool:
        return self.quotas.shared

    # -- the client delay --------------------------------------------------------------------

    def client_wait(self, ip: str) -> int:
        """Seconds this client address must wait before its next attempt (0: go ahead)."""
        failures, capped = self.quotas.usage(self.client_failures, ip)  # the cap and the count: one read
        if capped:
            return capped
        delay = policy.client_delay_seconds(failures, self.settings)
        return self.quotas.cooldown_left(COOLDOWN, delay, ip) if delay else 0

    def client_capped(self, ip: str) -> int:
        """Seconds until the hard cap of the address frees a slot (0 when below it)."""
        return self.quotas.wait(self.client_failures, ip)

    def account_client_wait(self, key: str, ip: str) -> int:
        """Seconds until this address may try this account again (0: go ahead)."""
        return self.quotas.wait(self.account_client_failures, key, ip)

    # -- counting ------------------------------------------------------------------------------

    def record_failure(self, ip: str, key: str | None, *, foreign: bool) -> None:
        """Count one failed attempt; start the client's cool-down when it is past its free ones."""
        self.quotas.add(self.client_failures, ip)
        delay = policy.client_delay_seconds(self.quotas.used(self.client_failures, ip), self.settings)
        if delay:
            self.quotas.start_cooldown(COOLDOWN, delay, ip)
        if key is not None:
            self.quotas.add(self.account_client_failures, key, ip)
            if foreign:
                self.quotas.add(self.foreign_failures, key)

    def foreign_failure_count(self, key: str) -> int | None:
        """Failures on the account from clients it never succeeded from; None when the store is
        down (the caller then counts them in the database: they must not read as none)."""
        return self.quotas.used_or_none(self.foreign_failures, key)

    def forget_account(self, key: str, ip: str) -> None:
        """The owner proved who they are: the account is no longer under attack from the past."""
        self.quotas.clear(self.foreign_failures, key)
        self.quotas.clear(self.account_client_failures, key, ip)

    def forgive(self, key: str, ip: str) -> None:
        """The owner proved the mailbox (a password reset done from ``ip``): the account is no longer
        under attack, this client's failures on it are forgotten, and the client's delay ends now,
        so the first sign-in with the new password goes straight through.

        The client's count itself stays (its hard cap still holds): a reset of one's own account
        must not wipe out the guesses an address made at everyone else's."""
        self.forget_account(key, ip)
        for delay in self._delays:
            self.quotas.clear_cooldown(COOLDOWN, delay, ip)

    def reset(self) -> None:
        """Forget every count (memory storage: tests; Redis: everything under the key prefix)."""
        self.quotas.reset()


def throttle_of(app: FastAPI) -> Throttle:
    """The sign-in counters on the app's one limiter."""
    return Throttle(app.state.settings, app.state.quotas)
