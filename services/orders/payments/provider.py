"""The payment provider interface orders talks to: authorise, capture, void, refund.

Every call carries an idempotency key; calling again with the same key returns the first result
and moves no money twice. A provider raises :class:`ProviderError` when it refuses (declined,
over the captured amount) and :class:`ProviderUnavailable` when it failed or timed out (the call
may be retried with the same key).
"""

from __future__ import annotations

from typing import Protocol


class ProviderError(Exception):
    """The provider refused the call (retrying with the same key will not help)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


class ProviderUnavailable(Exception):
    """The call failed or timed out; retry later with the same key."""


class PaymentProvider(Protocol):
    def authorise(self, key: str, card_token: str, amount: int) -> str:
        """Authorise ``amount`` on the card; the authorisation id."""

    def capture(self, key: str, authorisation_id: str, amount: int) -> None: ...

    def void(self, key: str, authorisation_id: str) -> None:
        """Release what is authorised and not captured."""

    def refund(self, key: str, authorisation_id: str, amount: int) -> None:
        """Refund at most what was captured and not yet refunded."""
