"""Where auth's events go, and what auth does with the events it receives.

Names and payloads are the contract's (:mod:`mamori_common.contract`). Auth mints the case ids it
announces (a lock's or an intrusion's) so it can name the case in a 423 at once; verification
opens the case under that id when the event arrives.
"""

from __future__ import annotations

from mamori_common.contract import (
    ACCOUNT_FROZEN,
    ACCOUNT_LOCKED,
    ACCOUNT_UNLOCKED,
    NOTIFY,
    ORDER_RISK_SIGNALS,
    SESSION_COMPROMISED,
    SESSION_REVOKED,
)
from mamori_common.events import Subscription
from services.auth.accounts.case_events import CASE_EVENT_HANDLERS
from services.auth.intrusion.watch import handle_order_risk_signals
from services.auth.messages.flows import handle_notify

__all__ = [
    "ACCOUNT_FROZEN",
    "ACCOUNT_LOCKED",
    "ACCOUNT_UNLOCKED",
    "EVENT_HANDLERS",
    "EVENT_ROUTES",
    "SESSION_COMPROMISED",
]

EVENT_ROUTES: dict[str, tuple[str, ...]] = {
    ACCOUNT_LOCKED: ("verification",),
    #: The owner unlocked a locked account by self-service: verification closes the lockout case.
    ACCOUNT_UNLOCKED: ("verification",),
    ACCOUNT_FROZEN: ("verification",),
    SESSION_COMPROMISED: ("orders", "verification"),
    #: Sessions ended: their access tokens are refused there at once (``mamori_common/revocations.py``).
    SESSION_REVOKED: ("orders", "verification"),
}

#: What auth applies, and from whom alone (a type from any other service is refused, 403).
EVENT_HANDLERS: dict[str, Subscription] = {
    #: Orders and verification ask auth to file a message in the message centre and mail it.
    NOTIFY: Subscription(handle_notify, sources=("orders", "verification")),
    **CASE_EVENT_HANDLERS,
    #: Orders reports what an order said about its session; the intrusion policy judges it (S2).
    ORDER_RISK_SIGNALS: Subscription(handle_order_risk_signals, sources=("orders",)),
}
