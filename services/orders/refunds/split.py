"""How a refund is split back over the tenders that paid (stories S2, S4).

Money goes back to where it came from, each tender at most what it still holds (captured minus
already refunded), in the order the ``refund_tender_order`` setting names: by default points,
then gift-card balance, then card, the reverse of charging (a card is charged last, so it is
refunded last: a partial refund gives back the store's own currencies first and leaves the card
charge, the one with fees and issuer disputes, for the rest). A tender kind absent from the
setting comes last, in payment order. The amount is never more than all tenders still hold.
Pure: tested alone, with hypothesis, in tests/orders/test_refund_split.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class RefundTooLarge(ValueError):
    """More was asked back than the tenders still hold."""


def refund_order(kinds_in_payment_order: Sequence[str], preferred: Sequence[str]) -> list[str]:
    """The kinds to refund, first to last: the preferred order, then any other in payment order."""
    first = [kind for kind in preferred if kind in kinds_in_payment_order]
    return first + [kind for kind in kinds_in_payment_order if kind not in first]


def split_refund(amount: int, refundable: Mapping[str, int], preferred: Sequence[str]) -> dict[str, int]:
    """``{tender kind: amount}`` summing to ``amount``, each within ``refundable[kind]``.

    ``refundable`` maps each tender kind (in payment order) to what it still holds.
    """
    if amount < 0:
        raise ValueError("a refund is not negative")
    if amount > sum(max(0, value) for value in refundable.values()):
        raise RefundTooLarge(f"{amount} is more than the tenders hold")
    remaining = amount
    parts: dict[str, int] = {}
    for kind in refund_order(list(refundable), preferred):
        take = min(remaining, max(0, refundable[kind]))
        if take:
            parts[kind] = take
            remaining -= take
    return parts
