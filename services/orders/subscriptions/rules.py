"""What ending a subscription gives back (story S2): pro rata, or everything when fraudulent.

A customer who ends a subscription gets back the unused share of the period paid for, rounded
down to the yen (the store never refunds more than the unused time). One started by an intruder
(a compromised session, a "not me" report) is refunded in full: the owner never wanted it.
Pure: tested alone in tests/orders/test_subscription_rules.py.
"""

from __future__ import annotations

from datetime import datetime


def refund_on_cancel(
    paid: int, period_start: datetime, period_end: datetime, now: datetime, *, fraudulent: bool
) -> int:
    if fraudulent:
        return paid
    total = (period_end - period_start).total_seconds()
    if total <= 0 or now >= period_end:
        return 0
    unused = min(total, (period_end - max(now, period_start)).total_seconds())
    return int(paid * unused // total)
