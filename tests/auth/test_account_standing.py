"""The account state machine alone (services/auth/accounts/standing.py): standing from facts, what
each standing may do, and every transition with who may make it, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mamori_common.contract import case_number
from mamori_common.problems import Problem
from services.auth.accounts import standing
from services.auth.accounts.models import Account, AccountState
from services.auth.accounts.standing import (
    MAY,
    TRANSITIONS,
    Actor,
    Capability,
    Restriction,
    Transition,
    ensure_may,
    ensure_may_make,
    may_make,
    standing_of,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=10)
CASE = "a" * 32
RESTRICTION = Restriction("b" * 32, "payment_verification", "A large gift-card order is being verified.")


def account(**facts: object) -> Account:
    values: dict[str, object] = {
        "state": AccountState.active,
        "failure_streak": 0,
        "failed_step_ups": 0,
        "lock_count": 0,
        "password_hash": "hash",
    }
    values.update(facts)
    return Account(**values)


# -- standing from facts -------------------------------------------------------------------------

FACTS: dict[str, tuple[dict[str, object], tuple[Restriction, ...], AccountState]] = {
    "nothing": ({}, (), AccountState.active),
    "a lock in force": ({"locked_until": LATER, "lock_case_id": CASE}, (), AccountState.locked),
    "a lock that ran out": ({"locked_until": NOW}, (), AccountState.active),
    "an open restriction": ({}, (RESTRICTION,), AccountState.restricted),
    "restricted and locked": ({"locked_until": LATER}, (RESTRICTION,), AccountState.locked),
    "frozen": ({"state": AccountState.frozen, "reset_opens_at": LATER}, (), AccountState.frozen),
    "frozen and restricted": ({"state": AccountState.frozen}, (RESTRICTION,), AccountState.frozen),
    "frozen with a lock": ({"state": AccountState.frozen, "locked_until": LATER}, (), AccountState.frozen),
    "closed": ({"state": AccountState.closed}, (), AccountState.closed),
    "closed and restricted, locked": (
        {"state": AccountState.closed, "locked_until": LATER},
        (RESTRICTION,),
        AccountState.closed,
    ),
}


@pytest.mark.parametrize("name", FACTS)
def test_the_standing_is_the_first_that_holds_of_closed_frozen_locked_restricted(name: str) -> None:
    facts, restrictions, expected = FACTS[name]
    assert standing_of(account(**facts), restrictions, now=NOW).state is expected


def test_a_standing_names_its_case_and_keeps_every_restriction_under_a_stronger_state() -> None:
    locked = standing_of(account(locked_until=LATER, lock_case_id=CASE), (RESTRICTION,), now=NOW)
    assert (locked.case_id, locked.case_number) == (CASE, case_number(CASE))
    assert locked.restricting_case_ids == [RESTRICTION.case_id]
    restricted = standing_of(account(), (RESTRICTION,), now=NOW)
    assert (restricted.case_id, restricted.reason) == (RESTRICTION.case_id, RESTRICTION.reason)
    assert standing_of(account(), (), now=NOW).case_id is None


# -- what each standing may do -------------------------------------------------------------------

Y, N = True, False
#: sign_in, see_case, upload, order, change_contact, change_password, change_totp, reset_password
EXPECTED_MAY = {
    AccountState.active: (Y, Y, Y, Y, Y, Y, Y, Y),
    AccountState.restricted: (Y, Y, Y, N, N, N, N, Y),
    AccountState.locked: (N, Y, Y, N, N, N, N, Y),
    AccountState.frozen: (N, N, N, N, N, N, N, Y),
    AccountState.closed: (N, N, N, N, N, N, N, N),
}


@pytest.mark.parametrize("state", list(AccountState))
def test_what_each_standing_may_do(state: AccountState) -> None:
    assert tuple(capability in MAY[state] for capability in Capability) == EXPECTED_MAY[state]


def test_a_frozen_account_resets_only_once_its_cool_down_is_over() -> None:
    cooling = standing_of(account(state=AccountState.frozen, reset_opens_at=LATER), (), now=NOW)
    held = standing_of(account(state=AccountState.frozen, reset_opens_at=None), (), now=NOW)
    opened = standing_of(account(state=AccountState.frozen, reset_opens_at=NOW), (), now=NOW)
    assert not cooling.may(Capability.reset_password) and cooling.reset_cooling_down
    assert not held.may(Capability.reset_password)
    assert opened.may(Capability.reset_password) and not opened.reset_cooling_down


def test_a_forbidden_capability_answers_account_restricted_naming_the_case() -> None:
    current = standing_of(account(), (RESTRICTION,), now=NOW)
    with pytest.raises(Problem) as refused:
        ensure_may(current, Capability.change_contact)
    assert refused.value.status == 403 and refused.value.code == "account_restricted"
    assert refused.value.extra["case_id"] == RESTRICTION.case_id
    assert refused.value.extra["case_number"] == case_number(RESTRICTION.case_id)
    ensure_may(current, Capability.upload)  # allowed: no exception


# -- transitions and who may make them -----------------------------------------------------------

A, R, L, F, C = (
    AccountState.active,
    AccountState.restricted,
    AccountState.locked,
    AccountState.frozen,
    AccountState.closed,
)
EXPECTED_TRANSITIONS = {
    Transition.lock: ({A, R}, {Actor.system}),
    Transition.unlock: ({L}, {Actor.customer, Actor.specialist, Actor.admin}),
    Transition.freeze: ({A, R, L}, {Actor.customer, Actor.system, Actor.specialist, Actor.admin}),
    Transition.open_reset: ({F}, {Actor.specialist, Actor.admin}),
    Transition.recover: ({A, R, L, F}, {Actor.customer}),
    Transition.restrict: ({A, R, L, F}, {Actor.system}),
    Transition.lift_restriction: ({A, R, L, F}, {Actor.system}),
    Transition.close: ({A, R, L, F}, {Actor.system}),
}
STANDINGS: dict[AccountState, tuple[dict[str, object], tuple[Restriction, ...]]] = {
    A: ({}, ()),
    R: ({}, (RESTRICTION,)),
    L: ({"locked_until": LATER}, ()),
    F: ({"state": AccountState.frozen}, ()),
    C: ({"state": AccountState.closed}, ()),
}


def test_the_table_covers_every_transition() -> None:
    assert set(TRANSITIONS) == set(Transition) == set(EXPECTED_TRANSITIONS)


@pytest.mark.parametrize("transition", list(Transition))
@pytest.mark.parametrize("actor", list(Actor))
@pytest.mark.parametrize("state", list(AccountState))
def test_who_may_make_each_transition_from_which_standing(
    transition: Transition, actor: Actor, state: AccountState
) -> None:
    facts, restrictions = STANDINGS[state]
    current = standing_of(account(**facts), restrictions, now=NOW)
    assert current.state is state
    states, actors = EXPECTED_TRANSITIONS[transition]
    allowed = state in states and actor in actors
    assert may_make(transition, actor, current) is allowed
    if allowed:
        ensure_may_make(transition, actor, current)
    else:
        with pytest.raises(Problem) as refused:
            ensure_may_make(transition, actor, current)
        assert refused.value.status == (403 if actor not in actors else 409)


def test_support_staff_make_no_transition_at_all() -> None:
    assert all(Actor.support not in rule.actors for rule in TRANSITIONS.values())


# -- transitions keep what they do not own -------------------------------------------------------


def test_a_restriction_survives_a_freeze_its_reset_and_an_unlock() -> None:
    """Known defect before the state machine: a restriction was lost when the account was frozen and reset."""
    row = account()
    restrictions = (RESTRICTION,)
    standing.freeze(row, case_id=CASE, reason="intrusion", now=NOW, reset_opens_at=NOW)
    assert standing_of(row, restrictions, now=NOW).state is AccountState.frozen
    assert standing.recover(row) == CASE
    assert standing_of(row, restrictions, now=NOW).state is AccountState.restricted
    row.locked_until, row.lock_case_id = LATER, CASE
    assert standing_of(row, restrictions, now=NOW).state is AccountState.locked
    assert standing.unlock(row) == CASE
    after = standing_of(row, restrictions, now=NOW)
    assert after.state is AccountState.restricted and after.restricting_case_ids == [RESTRICTION.case_id]


def test_a_freeze_ends_a_lock_and_invalidates_the_password() -> None:
    row = account(locked_until=LATER, lock_case_id=CASE, failed_step_ups=4)
    standing.freeze(row, case_id="f" * 32, reason="intrusion", now=NOW, reset_opens_at=None)
    assert (row.password_hash, row.locked_until, row.lock_case_id, row.failed_step_ups) == (None, None, None, 0)
    assert standing_of(row, (), now=NOW).case_id == "f" * 32


def test_closing_keeps_the_case_that_closed_it() -> None:
    row = account(locked_until=LATER)
    standing.close(row, case_id=CASE, reason="rejected")
    closed = standing_of(row, (RESTRICTION,), now=NOW)
    assert (closed.state, closed.case_id, closed.capabilities) == (AccountState.closed, CASE, frozenset())
