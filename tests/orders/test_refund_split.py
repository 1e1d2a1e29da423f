"""The refund split (services/orders/refunds/split.py): back to each tender, in the set order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.orders.refunds.split import RefundTooLarge, refund_order, split_refund

DEFAULT = ("points", "gift_balance", "card")


def test_default_order_gives_points_back_first_then_balance_then_card() -> None:
    held = {"card": 1_000, "gift_balance": 500, "points": 300}
    assert split_refund(700, held, DEFAULT) == {"points": 300, "gift_balance": 400}
    assert split_refund(1_800, held, DEFAULT) == {"points": 300, "gift_balance": 500, "card": 1_000}


def test_a_setting_can_refund_the_card_first() -> None:
    held = {"card": 1_000, "points": 300}
    assert split_refund(500, held, ("card", "points")) == {"card": 500}


def test_kinds_missing_from_the_setting_come_last_in_payment_order() -> None:
    assert refund_order(["card", "points", "gift_balance"], ("points",)) == ["points", "card", "gift_balance"]


def test_more_than_the_tenders_hold_is_refused() -> None:
    with pytest.raises(RefundTooLarge):
        split_refund(1_301, {"card": 1_000, "points": 300}, DEFAULT)


tenders = st.dictionaries(st.sampled_from(["points", "gift_balance", "card"]), st.integers(0, 1_000_000), min_size=1)


@given(tenders, st.data(), st.permutations(list(DEFAULT)))
def test_split_sums_to_the_amount_and_never_exceeds_a_tender(
    held: dict[str, int], data: st.DataObject, preferred: list[str]
) -> None:
    amount = data.draw(st.integers(0, sum(held.values())))
    parts = split_refund(amount, held, preferred)
    assert sum(parts.values()) == amount
    assert all(0 < parts[kind] <= held[kind] for kind in parts)


@given(tenders, st.data(), st.permutations(list(DEFAULT)))
def test_a_later_tender_is_touched_only_when_the_earlier_ones_are_empty(
    held: dict[str, int], data: st.DataObject, preferred: list[str]
) -> None:
    amount = data.draw(st.integers(0, sum(held.values())))
    parts = split_refund(amount, held, preferred)
    order = refund_order(list(held), preferred)
    for index, kind in enumerate(order):
        if parts.get(kind):
            assert all(parts.get(earlier, 0) == held[earlier] for earlier in order[:index])
