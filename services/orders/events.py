"""Where orders' events go, and what orders does with the events it receives."""

from __future__ import annotations

from mamori_common import contract
from mamori_common.events import Subscription
from services.orders.holds.flows import handle_case_approved, handle_case_rejected
from services.orders.intrusion.flows import handle_session_compromised

EVENT_ROUTES: dict[str, tuple[str, ...]] = {
    contract.PAYMENT_HELD: ("verification",),
    contract.ORDER_REPORTED_NOT_MINE: ("verification",),
    contract.CASE_ACTIVITY: ("verification",),
    contract.ACCOUNT_STEPUP_REQUIRED: ("auth",),
    #: What an order said about its session, for auth's intrusion policy (S2).
    contract.ORDER_RISK_SIGNALS: ("auth",),
    contract.NOTIFY: ("auth",),
}

#: What orders applies, and from whom alone (a type from any other service is refused, 403).
EVENT_HANDLERS: dict[str, Subscription] = {
    contract.SESSION_COMPROMISED: Subscription(handle_session_compromised, sources=("auth",)),
    contract.CASE_APPROVED: Subscription(handle_case_approved, sources=("verification",)),
    contract.CASE_REJECTED: Subscription(handle_case_rejected, sources=("verification",)),
}
