"""Review decisions (services/verification/review/decisions.py): rounds, then two specialists."""

from __future__ import annotations

import pytest

from mamori_common.problems import Problem
from services.verification.catalogue import Decision
from services.verification.review.decisions import Outcome, rule


def test_approve_is_approve() -> None:
    assert (
        rule("approve", "verified", rounds_used=0, rounds_allowed=3, specialist_id="a", proposed_by=None).outcome
        is Outcome.approve
    )


def test_a_rejection_before_the_last_round_gives_the_customer_another_round() -> None:
    ruling = rule(
        "reject", "statement_unreadable", rounds_used=0, rounds_allowed=3, specialist_id="a", proposed_by=None
    )
    assert (ruling.outcome, ruling.rounds_left) == (Outcome.more_needed, 2)
    ruling = rule(
        "reject", "statement_unreadable", rounds_used=1, rounds_allowed=3, specialist_id="a", proposed_by=None
    )
    assert (ruling.outcome, ruling.rounds_left) == (Outcome.more_needed, 1)


def test_the_last_round_needs_a_second_specialist_to_reject() -> None:
    first = rule(
        "reject", "cardholder_not_confirmed", rounds_used=2, rounds_allowed=3, specialist_id="a", proposed_by=None
    )
    assert first.outcome is Outcome.propose_final_rejection
    with pytest.raises(Problem) as same:
        rule("reject", "cardholder_not_confirmed", rounds_used=2, rounds_allowed=3, specialist_id="a", proposed_by="a")
    assert same.value.code == "second_specialist_required"
    second = rule(
        "reject", "cardholder_not_confirmed", rounds_used=2, rounds_allowed=3, specialist_id="b", proposed_by="a"
    )
    assert second.outcome is Outcome.final_rejection


def test_request_more_never_closes_anything() -> None:
    ruling = rule(
        "request_more", "address_unverifiable", rounds_used=5, rounds_allowed=3, specialist_id="a", proposed_by=None
    )
    assert ruling.outcome is Outcome.more_needed


@pytest.mark.parametrize(
    ("decision", "reason"),
    [("approve", "statement_unreadable"), ("request_more", "verified"), ("reject", "no-such-reason")],
)
def test_a_reason_must_fit_the_decision(decision: Decision, reason: str) -> None:
    with pytest.raises(Problem) as refused:
        rule(decision, reason, rounds_used=0, rounds_allowed=3, specialist_id="a", proposed_by=None)
    assert refused.value.code == "unknown_reason"
