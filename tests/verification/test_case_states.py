"""The case state machine (services/verification/cases/states.py): every pair, allowed or refused."""

from __future__ import annotations

import itertools

import pytest

from mamori_common.problems import Problem
from services.verification.cases.states import CaseAction, CaseState, next_state

S, A = CaseState, CaseAction

ALLOWED = {
    (S.awaiting_customer, A.submit): S.in_review,
    (S.awaiting_customer, A.approve): S.approved,
    (S.awaiting_customer, A.close): S.closed,
    (S.in_review, A.request_more): S.more_needed,
    (S.in_review, A.approve): S.approved,
    (S.in_review, A.reject): S.rejected,
    (S.in_review, A.close): S.closed,
    (S.more_needed, A.submit): S.in_review,
    (S.more_needed, A.approve): S.approved,
    (S.more_needed, A.close): S.closed,
    (S.approved, A.close): S.closed,
    (S.rejected, A.close): S.closed,
}


@pytest.mark.parametrize(("state", "action"), list(itertools.product(CaseState, CaseAction)))
def test_every_state_and_action(state: CaseState, action: CaseAction) -> None:
    expected = ALLOWED.get((state, action))
    if expected is not None:
        assert next_state(state, action) is expected
    else:
        with pytest.raises(Problem) as refused:
            next_state(state, action)
        assert (refused.value.status, refused.value.code) == (409, "invalid_transition")


def test_a_closed_case_never_moves_again() -> None:
    for action in CaseAction:
        with pytest.raises(Problem):
            next_state(S.closed, action)
