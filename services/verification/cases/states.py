"""The life of a case: which step may move it from which state to which, and nothing else.

``awaiting_customer``: we wait for the customer (documents, a code, a call). ``in_review``: a
person at the store owes the next step. ``more_needed``: a specialist asked for more. Then a
decision: ``approved`` or ``rejected`` (final), and ``closed`` once nothing more will happen.

Every allowed move is one row of :data:`TRANSITIONS`; any other is refused with 409
``invalid_transition``. ``tests/verification/test_case_states.py`` walks the whole table, allowed
and refused. Why these rows:

- customer input (``submit``) moves a waiting case to review only when the checklist is complete;
  a partial upload keeps it waiting, so nobody reviews half a file;
- ``approve`` and ``close`` also work while waiting: a lock the owner lifted by self-service, or
  an intrusion case a specialist settles by phone, needs no documents;
- ``reject`` is a specialist's decision on what was sent, so only from review;
- a decided case can only be closed: a new problem is a new case, with its own number.
"""

from __future__ import annotations

import enum

from mamori_common.problems import Problem


class CaseState(str, enum.Enum):
    awaiting_customer = "awaiting_customer"
    in_review = "in_review"
    more_needed = "more_needed"
    approved = "approved"
    rejected = "rejected"
    closed = "closed"


class CaseAction(str, enum.Enum):
    submit = "submit"
    request_more = "request_more"
    approve = "approve"
    reject = "reject"
    close = "close"


S, A = CaseState, CaseAction

TRANSITIONS: dict[tuple[CaseState, CaseAction], CaseState] = {
    (S.awaiting_customer, A.submit): S.in_review,
    (S.more_needed, A.submit): S.in_review,
    (S.in_review, A.request_more): S.more_needed,
    (S.in_review, A.approve): S.approved,
    (S.awaiting_customer, A.approve): S.approved,
    (S.more_needed, A.approve): S.approved,
    (S.in_review, A.reject): S.rejected,
    (S.awaiting_customer, A.close): S.closed,
    (S.in_review, A.close): S.closed,
    (S.more_needed, A.close): S.closed,
    (S.approved, A.close): S.closed,
    (S.rejected, A.close): S.closed,
}

#: States in which the case is still open (it may restrict the account, it is in a queue).
OPEN_STATES = frozenset({S.awaiting_customer, S.in_review, S.more_needed})
#: States in which the customer can still send documents and supplements.
ACCEPTS_CUSTOMER_INPUT = frozenset({S.awaiting_customer, S.more_needed, S.in_review})


def next_state(current: CaseState, action: CaseAction) -> CaseState:
    """The state ``action`` moves a case in ``current`` to; 409 when the table has no such row."""
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        raise Problem(
            409,
            "invalid_transition",
            f"A case that is {current.value} cannot be moved by {action.value}.",
            state=current.value,
            action=action.value,
        ) from None


def can(current: CaseState, action: CaseAction) -> bool:
    return (current, action) in TRANSITIONS
