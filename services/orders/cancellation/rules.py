"""What may be cancelled, returned, and why not (stories S2, S4), in one place.

* a physical line before it ships (after: a return);
* a digital line before its first use (the ``used`` flag);
* a gift card not yet redeemed; a top-up whose balance is still there to take back;
* a subscription line ends its subscription (``subscriptions/rules.py`` says what comes back).

Each refusal is a stable code (409, texts in ``catalogue.py``). Pure: tested alone in
tests/orders/test_cancellation_rules.py.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from services.orders.ordering.models import LineKind, LineState


class Refusal(str, enum.Enum):
    already_cancelled = "already_cancelled"
    already_shipped = "already_shipped"
    digital_used = "digital_used"
    gift_card_redeemed = "gift_card_redeemed"
    top_up_spent = "top_up_spent"
    not_shipped = "not_shipped"
    return_already_requested = "return_already_requested"


@dataclass(frozen=True)
class LineFacts:
    kind: str
    state: str
    used: bool = False
    redeemed: bool = False
    #: For a top-up: the balance the account holds now (to take the top-up back).
    balance_left: int = 0
    amount: int = 0


def cancel_refusal(line: LineFacts) -> Refusal | None:
    """None when the line may be cancelled now, else why not."""
    if line.state in (LineState.cancelled.value, LineState.returned.value):
        return Refusal.already_cancelled
    if line.state != LineState.open.value:
        return Refusal.already_shipped
    if line.kind == LineKind.digital.value and line.used:
        return Refusal.digital_used
    if line.kind == LineKind.gift_card.value and line.redeemed:
        return Refusal.gift_card_redeemed
    if line.kind == LineKind.balance_top_up.value and line.balance_left < line.amount:
        return Refusal.top_up_spent
    return None


def return_refusal(line: LineFacts) -> Refusal | None:
    """None when a return of the line may be opened now."""
    if line.state == LineState.return_requested.value:
        return Refusal.return_already_requested
    if line.state in (LineState.cancelled.value, LineState.returned.value):
        return Refusal.already_cancelled
    if line.state != LineState.shipped.value:
        return Refusal.not_shipped
    return None
