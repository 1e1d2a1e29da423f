"""What may be cancelled or returned (services/orders/cancellation/rules.py), and the subscription refund."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.orders.cancellation.rules import LineFacts, Refusal, cancel_refusal, return_refusal
from services.orders.subscriptions.rules import refund_on_cancel


def test_physical_lines_cancel_before_shipment_and_return_after() -> None:
    assert cancel_refusal(LineFacts("physical", "open")) is None
    assert cancel_refusal(LineFacts("physical", "shipped")) is Refusal.already_shipped
    assert return_refusal(LineFacts("physical", "shipped")) is None
    assert return_refusal(LineFacts("physical", "open")) is Refusal.not_shipped
    assert return_refusal(LineFacts("physical", "return_requested")) is Refusal.return_already_requested


def test_digital_lines_cancel_until_first_use() -> None:
    assert cancel_refusal(LineFacts("digital", "open", used=False)) is None
    assert cancel_refusal(LineFacts("digital", "open", used=True)) is Refusal.digital_used


def test_gift_cards_cancel_until_redeemed() -> None:
    assert cancel_refusal(LineFacts("gift_card", "open")) is None
    assert cancel_refusal(LineFacts("gift_card", "open", redeemed=True)) is Refusal.gift_card_redeemed


def test_a_top_up_cancels_only_while_its_balance_is_still_there() -> None:
    assert cancel_refusal(LineFacts("balance_top_up", "open", balance_left=50_000, amount=50_000)) is None
    assert (
        cancel_refusal(LineFacts("balance_top_up", "open", balance_left=49_999, amount=50_000)) is Refusal.top_up_spent
    )


def test_nothing_is_cancelled_twice() -> None:
    assert cancel_refusal(LineFacts("physical", "cancelled")) is Refusal.already_cancelled
    assert cancel_refusal(LineFacts("physical", "returned")) is Refusal.already_cancelled


START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(days=30)


def test_a_subscription_ended_after_ten_of_thirty_days_gives_back_two_thirds() -> None:
    assert refund_on_cancel(600, START, END, START + timedelta(days=10), fraudulent=False) == 400


def test_a_fraudulent_subscription_is_refunded_in_full_whenever_it_ends() -> None:
    assert refund_on_cancel(600, START, END, START + timedelta(days=29), fraudulent=True) == 600


@given(st.integers(1, 100_000), st.integers(-5 * 86400, 40 * 86400))
def test_pro_rata_never_exceeds_what_was_paid_and_shrinks_with_time(paid: int, seconds: int) -> None:
    now = START + timedelta(seconds=seconds)
    refund = refund_on_cancel(paid, START, END, now, fraudulent=False)
    later = refund_on_cancel(paid, START, END, now + timedelta(days=1), fraudulent=False)
    assert 0 <= later <= refund <= paid
