"""The risk rules (services/orders/risk/rules.py) on their own: each rule, then the verdict."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from services.orders.config import OrdersSettings
from services.orders.risk import rules
from services.orders.risk.rules import OrderFacts, Outcome

SETTINGS = OrdersSettings()
PLAIN = OrderFacts(
    total=3_000,
    gift_and_top_up_amount=0,
    has_gift_card=False,
    account_holder_name="Hana Sato",
    card_holder_name="Hana Sato",
    recent_gift_or_top_up_orders=0,
    device_first_seen_today=False,
    country_first_seen_today=False,
)


def test_an_ordinary_order_is_allowed() -> None:
    assert rules.evaluate(PLAIN, SETTINGS) == rules.Decision(Outcome.allow, [])


def test_gift_cards_and_top_ups_at_the_limit_are_held() -> None:
    below = replace(PLAIN, total=49_999, gift_and_top_up_amount=49_999)
    at_limit = replace(PLAIN, total=50_000, gift_and_top_up_amount=50_000)
    held = rules.Finding(Outcome.hold, "gift_or_top_up_over_limit")
    assert rules.gift_or_top_up_over_limit(below, SETTINGS) is None
    assert rules.gift_or_top_up_over_limit(at_limit, SETTINGS) == held, "S2's top-up was exactly 50,000 yen"


def test_cardholder_name_unlike_the_account_holder_is_held() -> None:
    wife = replace(PLAIN, card_holder_name="Yumi Tanaka", account_holder_name="Kenji Tanaka")
    assert rules.cardholder_differs(wife, SETTINGS) == rules.Finding(Outcome.hold, "cardholder_name_differs")


def test_the_same_name_written_differently_is_the_same_person() -> None:
    for written in ("SATO HANA", "hana  sato", "Ｈａｎａ Ｓａｔｏ", "Sato, Hana"):
        assert rules.cardholder_differs(replace(PLAIN, card_holder_name=written), SETTINGS) is None, written


def test_no_card_or_no_known_name_says_nothing_about_names() -> None:
    assert rules.cardholder_differs(replace(PLAIN, card_holder_name=None), SETTINGS) is None
    assert rules.cardholder_differs(replace(PLAIN, account_holder_name=""), SETTINGS) is None


def test_the_third_gift_card_or_top_up_order_within_a_day_is_held_both_counted_together() -> None:
    second = replace(PLAIN, has_gift_card=True, recent_gift_or_top_up_orders=1)
    third = replace(PLAIN, has_gift_card=True, recent_gift_or_top_up_orders=2)
    held = rules.Finding(Outcome.hold, "gift_or_top_up_velocity")
    assert rules.gift_or_top_up_velocity(second, SETTINGS) is None
    assert rules.gift_or_top_up_velocity(third, SETTINGS) == held
    third_top_up = replace(third, has_gift_card=False, has_top_up=True)
    assert rules.gift_or_top_up_velocity(third_top_up, SETTINGS) == held
    assert rules.gift_or_top_up_velocity(replace(third, has_gift_card=False), SETTINGS) is None


def test_a_top_up_from_a_session_or_device_younger_than_a_day_is_held() -> None:
    day = 24 * 3600
    settled = replace(PLAIN, has_top_up=True, session_age_seconds=day + 1, gift_and_top_up_amount=5_000)
    held = rules.Finding(Outcome.hold, "top_up_from_new_session_or_device")
    assert rules.top_up_from_young_session_or_device(settled, SETTINGS) is None
    assert rules.top_up_from_young_session_or_device(replace(settled, session_age_seconds=60), SETTINGS) == held
    assert rules.top_up_from_young_session_or_device(replace(settled, session_age_seconds=None), SETTINGS) == held
    assert rules.top_up_from_young_session_or_device(replace(settled, device_younger_than_a_day=True), SETTINGS) == held
    young_gift = replace(settled, has_top_up=False, has_gift_card=True, session_age_seconds=60)
    assert rules.top_up_from_young_session_or_device(young_gift, SETTINGS) is None, "gift cards have their own rules"


def test_high_value_from_a_new_device_or_country_is_held_low_value_is_not() -> None:
    new_device = replace(PLAIN, total=30_000, device_first_seen_today=True)
    new_country = replace(PLAIN, total=40_000, country_first_seen_today=True)
    assert rules.high_value_from_new_device_or_country(new_device, SETTINGS) is not None
    assert rules.high_value_from_new_device_or_country(new_country, SETTINGS) is not None
    assert rules.high_value_from_new_device_or_country(replace(new_device, total=29_999), SETTINGS) is None


def test_block_wins_over_hold_and_holds_keep_every_reason() -> None:
    huge = replace(PLAIN, total=3_000_000, gift_and_top_up_amount=3_000_000, card_holder_name="Someone Else")
    assert rules.evaluate(huge, SETTINGS) == rules.Decision(Outcome.block, ["amount_over_block_limit"])
    s3 = replace(
        PLAIN,
        total=100_000,
        gift_and_top_up_amount=100_000,
        has_gift_card=True,
        card_holder_name="Yumi Tanaka",
        account_holder_name="Kenji Tanaka",
    )
    assert rules.evaluate(s3, SETTINGS) == rules.Decision(
        Outcome.hold, ["gift_or_top_up_over_limit", "cardholder_name_differs"]
    )


def test_thresholds_come_from_settings() -> None:
    strict = OrdersSettings(risk_gift_and_top_up_limit=10_000)
    facts = replace(PLAIN, total=20_000, gift_and_top_up_amount=20_000)
    assert rules.evaluate(facts, SETTINGS).outcome is Outcome.allow
    assert rules.evaluate(facts, strict).outcome is Outcome.hold


@given(st.integers(0, 5_000_000), st.integers(0, 5_000_000), st.booleans(), st.booleans())
def test_every_hold_or_block_names_a_reason_and_allow_names_none(
    total: int, gift: int, new_device: bool, other_name: bool
) -> None:
    facts = replace(
        PLAIN,
        total=total,
        gift_and_top_up_amount=min(gift, total),
        device_first_seen_today=new_device,
        card_holder_name="Someone Else" if other_name else "Hana Sato",
    )
    decision = rules.evaluate(facts, SETTINGS)
    assert (decision.outcome is Outcome.allow) == (decision.reasons == [])
