"""The browser's session with the portal: which cookie holds what, and where the access token lives.

* The **refresh token** is the only credential the browser holds, in the ``mamori_session``
  cookie: HttpOnly (no script reads it), SameSite=Lax (other sites' forms do not carry it on a
  POST), Secure outside local development, never in a URL.
* The **access token** never reaches the browser. The portal exchanges the refresh token for it
  and keeps it in its own memory, keyed by a hash of the refresh token, until shortly before it
  expires. Why not exchange on every request: auth rotates the refresh token on each exchange and
  treats a second use of an exchanged token as theft, ending the session (RFC 9700). A browser
  that loads two pages at once would present one token twice and sign itself out. Keeping the
  exchange's answer for the old token's hash, under a per-token lock, makes concurrent requests
  share one exchange; with several portal replicas a race between replicas is still possible and
  ends in a fresh sign-in, never in a wrong one.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

SESSION_COOKIE = "mamori_session"
#: Long-lived random id of this browser, for orders' risk rules (a device new to the account).
DEVICE_COOKIE = "mamori_device"
#: The device token auth issued this browser on its last sign-in (signed, rotated on each one):
#: how auth recognises the device. HttpOnly, SameSite=Strict, Secure outside local development;
#: sent to auth only, never shown.
DEVICE_TOKEN_COOKIE = "mamori_device_token"
LANGUAGE_COOKIE = "mamori_lang"
ZONE_COOKIE = "mamori_zone"
#: A pending sign-in step-up (challenge id and the methods offered): short-lived, HttpOnly.
CHALLENGE_COOKIE = "mamori_challenge"
#: The WebAuthn request options of that step-up (public: a challenge and credential ids), for the
#: passkey button; a cookie of its own, as a few credential ids would not fit in the first.
CHALLENGE_PASSKEY_COOKIE = "mamori_challenge_passkey"
#: A staff account with no second factor setting up TOTP: auth's enrolment token and the pending
#: secret, kept like a step-up (HttpOnly, short-lived), and sent back only to the set-up page's path.
STAFF_ENROLMENT_COOKIE = "mamori_staff_enrolment"

#: An access token is dropped this many seconds before it expires, so no call carries a dying one.
EXPIRY_MARGIN_SECONDS = 60
#: Remembered exchanges at most; the oldest go first.
MAX_REMEMBERED = 20_000


def token_key(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    #: ``time.monotonic()`` after which the access token is no longer used.
    use_until: float

    @classmethod
    def from_answer(cls, body: dict[str, object]) -> Tokens:
        lifetime = int(str(body.get("expires_in", 0)))
        return cls(
            access_token=str(body["access_token"]),
            refresh_token=str(body["refresh_token"]),
            use_until=time.monotonic() + max(0, lifetime - EXPIRY_MARGIN_SECONDS),
        )

    @property
    def fresh(self) -> bool:
        return time.monotonic() < self.use_until


Exchange = Callable[[str], Awaitable[Tokens | None]]


class TokenKeeper:
    """Access tokens in the portal's memory, keyed by the hash of the refresh token they came with."""

    def __init__(self, capacity: int = MAX_REMEMBERED) -> None:
        self._tokens: OrderedDict[str, Tokens] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._capacity = capacity

    def remember(self, presented: str | None, tokens: Tokens) -> None:
        """Keep ``tokens`` for their own refresh token and for the one they replaced."""
        for refresh in {presented, tokens.refresh_token} - {None}:
            assert refresh is not None
            self._tokens[token_key(refresh)] = tokens
            self._tokens.move_to_end(token_key(refresh))
        while len(self._tokens) > self._capacity:
            self._tokens.popitem(last=False)

    def forget(self, refresh_token: str) -> None:
        """Drop every entry that leads to the same access token (sign-out, a revoked session)."""
        known = self._tokens.pop(token_key(refresh_token), None)
        if known is not None:
            for key in [key for key, tokens in self._tokens.items() if tokens is known]:
                del self._tokens[key]

    def expire(self, refresh_token: str) -> None:
        """The access token was refused (expired early, a new signing key): exchange again next
        time, with the newest refresh token of the chain."""
        known = self._tokens.get(token_key(refresh_token))
        if known is not None:
            stale = Tokens(known.access_token, known.refresh_token, use_until=0.0)
            for key in [key for key, tokens in self._tokens.items() if tokens is known]:
                self._tokens[key] = stale

    async def tokens_for(self, refresh_token: str, exchange: Exchange) -> Tokens | None:
        """Fresh tokens for the browser's refresh token: remembered, or from one exchange."""
        key = token_key(refresh_token)
        known = self._tokens.get(key)
        if known is not None and known.fresh:
            return known
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                known = self._tokens.get(key)
                if known is not None and known.fresh:
                    return known
                # The newest refresh token of the chain: the browser may still send an older one.
                current = known.refresh_token if known is not None else refresh_token
                tokens = await exchange(current)
                if tokens is None:
                    self._tokens.pop(key, None)
                    return None
                self.remember(refresh_token, tokens)
                if current != refresh_token:
                    self.remember(current, tokens)
                return tokens
        finally:
            if not lock.locked():
                self._locks.pop(key, None)
