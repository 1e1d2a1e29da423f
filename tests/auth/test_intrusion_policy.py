"""The intrusion policy of story S2 (``services/auth/intrusion/policy.py``), alone."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.auth.intrusion.policy import (
    MOVE_OF_CHANGE,
    MOVES_WITH_ONE_NEW,
    Move,
    Novelty,
    judge_session,
    moves_of,
)

BOTH = [Novelty.new_device, Novelty.new_country]


def test_s2_new_device_and_country_then_a_new_address_and_a_gift_card_acts() -> None:
    verdict = judge_session(BOTH, [Move.gift_card_order, Move.email_change])

    assert verdict.act
    assert verdict.reasons == ("new_device", "new_country", "email_change", "gift_card_order")


def test_a_stolen_card_buying_a_gift_card_from_somewhere_new_acts() -> None:
    assert judge_session(BOTH, [Move.new_tender, Move.gift_card_order]).act


def test_one_move_from_somewhere_new_is_an_owners_trip_not_an_intrusion() -> None:
    assert not judge_session(BOTH, []).act
    for move in Move:
        assert not judge_session(BOTH, [move]).act, move


def test_one_new_thing_needs_three_different_moves() -> None:
    for novelty in Novelty:
        assert not judge_session([novelty], [Move.email_change, Move.gift_card_order]).act
        verdict = judge_session([novelty], [Move.email_change, Move.gift_card_order, Move.password_change])
        assert verdict.act
        assert verdict.reasons == (novelty.value, "password_change", "email_change", "gift_card_order")


def test_a_session_is_acted_on_once() -> None:
    assert not judge_session(BOTH, [Move.password_change, Move.email_change], already_acted=True).act


@given(st.sets(st.sampled_from(list(Move))))
def test_the_owners_own_device_at_home_is_never_judged_whatever_it_does(moves: set[Move]) -> None:
    assert not judge_session([], moves).act


@given(st.sets(st.sampled_from(list(Novelty)), min_size=1), st.sets(st.sampled_from(list(Move))))
def test_more_moves_never_turn_an_action_off(novelties: set[Novelty], moves: set[Move]) -> None:
    if judge_session(novelties, moves).act:
        assert judge_session(novelties, set(Move)).act
    if len(moves) >= MOVES_WITH_ONE_NEW:
        assert judge_session(novelties, moves).act


def test_only_known_moves_count_and_changes_map_to_moves() -> None:
    assert moves_of(["gift_card_order", "from_a_newer_producer"]) == {Move.gift_card_order}
    assert MOVE_OF_CHANGE["email"] is Move.email_change and "sign_in" not in MOVE_OF_CHANGE
