"""What each kind of case needs from the customer, and when that is enough for a review.

Only payment verification asks for things (story S3): a statement of the held payment's card
showing its last 4 digits, the billing name (which may differ from the account holder's), the
billing address and the cardholder's phone. The other kinds are settled by what the customer does
elsewhere (an unlock code, a password reset) or by staff, so they carry no checklist.

An item is ``missing``, ``received`` (found on a document or typed; a specialist checks it),
``accepted`` (a specialist approved the case) or ``rejected`` (with a reason code). A statement
item can only be met by a document; the others also by a typed supplement.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Protocol

CHECKLISTS: dict[str, tuple[str, ...]] = {
    "payment_verification": ("statement", "billing_name", "billing_address", "cardholder_phone"),
    "intrusion": (),
    "lockout": (),
    "not_me": (),
    "callback": (),
}

#: Items a typed supplement may meet (a statement must be a document).
SUPPLEMENTABLE = frozenset({"billing_name", "billing_address", "cardholder_phone"})


class ItemStatus(str, enum.Enum):
    missing = "missing"
    received = "received"
    accepted = "accepted"
    rejected = "rejected"


class HasStatus(Protocol):
    code: str
    status: str


MET = frozenset({ItemStatus.received.value, ItemStatus.accepted.value})


def items_for(kind: str) -> tuple[str, ...]:
    return CHECKLISTS[kind]


def outstanding(items: Iterable[HasStatus]) -> list[str]:
    """Codes of the items still missing or rejected, in checklist order."""
    return [item.code for item in items if item.status not in MET]


def ready_for_review(items: Iterable[HasStatus]) -> bool:
    """Every item met: a specialist can decide. A case without a checklist is never "ready" by
    itself: it waits for an event or a person."""
    listed = list(items)
    return bool(listed) and not outstanding(listed)
