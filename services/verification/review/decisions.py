"""What a specialist's decision does to a case: the rounds rule and the second-specialist rule.

- ``approve`` approves; ``request_more`` sends the case back to the customer and uses a round.
- ``reject`` before the last round is not the end: the customer gets the reason and another
  round (story S3: "close the account only after a stated number of failed attempts").
- ``reject`` in the last round is final and closes the account, so it needs two people: the first
  specialist proposes it, a *different* specialist confirms it (the same one again: 409).

Pure function of the case's counters and the settings; tested in ``tests/verification/test_decisions.py``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mamori_common.problems import Problem
from services.verification import catalogue


class Outcome(str, enum.Enum):
    approve = "approve"
    more_needed = "more_needed"
    propose_final_rejection = "propose_final_rejection"
    final_rejection = "final_rejection"


@dataclass(frozen=True)
class Ruling:
    outcome: Outcome
    #: Rounds the customer still has after this decision.
    rounds_left: int


def rule(
    decision: catalogue.Decision,
    reason_code: str,
    *,
    rounds_used: int,
    rounds_allowed: int,
    specialist_id: str,
    proposed_by: str | None,
) -> Ruling:
    reason = catalogue.REASONS.get(reason_code)
    if reason is None or decision not in reason.decisions:
        raise Problem(
            422,
            "unknown_reason",
            f"{reason_code!r} is not a reason for {decision}.",
            reasons=catalogue.reasons_for(decision),
        )
    left = max(0, rounds_allowed - rounds_used)
    if decision == "approve":
        return Ruling(Outcome.approve, left)
    if decision == "request_more" or rounds_used + 1 < rounds_allowed:
        return Ruling(Outcome.more_needed, max(0, left - 1))
    if proposed_by is None:
        return Ruling(Outcome.propose_final_rejection, 0)
    if proposed_by == specialist_id:
        raise Problem(
            409,
            "second_specialist_required",
            "A final rejection closes the account: another specialist must confirm it.",
        )
    return Ruling(Outcome.final_rejection, 0)
