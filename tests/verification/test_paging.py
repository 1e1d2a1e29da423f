"""listCases and the review queue page by cursor: each case once, in order, while new cases open;
the queue has no cap any more (a busy day's 600 cases are all reachable); a cursor that is not the
caller's own for this list is a 400 problem."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.paging import assert_bad_cursor_refused, follow
from tests.verification.conftest import VerificationHarness

ALICE, BOB, SPECIALIST = "a" * 32, "b" * 32, "p" * 32


def _callback_case(verification: VerificationHarness, account: str) -> str:
    """A new callback case (each request without a case opens one), a minute after the last."""
    verification.clock.advance(minutes=1)
    response = verification.client.post(
        "/api/verification/callbacks", headers=verification.as_user(account), json={"phone": "03-1234-5678"}
    )
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


def _cases_page(verification: VerificationHarness, account: str, limit: int, cursor: str | None) -> httpx.Response:
    params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
    return verification.client.get("/api/verification/cases", headers=verification.as_user(account), params=params)


def _queue_page(verification: VerificationHarness, limit: int, cursor: str | None) -> httpx.Response:
    params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
    return verification.client.get(
        "/api/verification/staff/queue", headers=verification.as_user(SPECIALIST, "specialist"), params=params
    )


def test_paging_through_cases_returns_each_once_newest_first_while_new_ones_open(
    verification: VerificationHarness,
) -> None:
    opened = [_callback_case(verification, ALICE) for _ in range(5)]
    during: list[str] = []

    seen = follow(
        lambda cursor: _cases_page(verification, ALICE, 2, cursor),
        between=lambda _n: during.append(_callback_case(verification, ALICE)),
    )

    assert [case["id"] for case in seen] == opened[::-1]
    assert len(during) == 2
    assert [case["id"] for case in _cases_page(verification, ALICE, 2, None).json()["items"]] == during[::-1]


def test_another_customers_case_cursor_is_refused_and_shows_nothing_of_theirs(
    verification: VerificationHarness,
) -> None:
    for _ in range(3):
        _callback_case(verification, ALICE)
    mine = _callback_case(verification, BOB)
    alices_next = _cases_page(verification, ALICE, 1, None).json()["next"]

    assert_bad_cursor_refused(_cases_page(verification, BOB, 1, alices_next))
    body, _, mac = alices_next.partition(".")
    assert_bad_cursor_refused(_cases_page(verification, BOB, 1, f"{body}.{mac[1:]}A"))
    assert [case["id"] for case in _cases_page(verification, BOB, 10, None).json()["items"]] == [mine]
    refused = _cases_page(verification, BOB, 101, None)
    assert refused.status_code == 422 and refused.json()["code"] == "validation_error"


def test_the_queue_pages_in_promised_order_past_the_old_cap_of_500(verification: VerificationHarness) -> None:
    opened = [_callback_case(verification, f"{number:032x}") for number in range(7)]
    during: list[str] = []

    seen = follow(
        lambda cursor: _queue_page(verification, 3, cursor),
        between=lambda _n: during.append(_callback_case(verification, BOB)),
    )

    ids = [case["id"] for case in seen]
    assert ids == opened + during  # soonest promise first: cases opened meanwhile come at the end, once each
    dues = [case["due_at"] for case in seen]
    assert dues == sorted(dues)
    assert_bad_cursor_refused(_cases_page(verification, ALICE, 3, _queue_page(verification, 3, None).json()["next"]))


def test_more_than_500_waiting_cases_are_all_in_the_queue(verification: VerificationHarness) -> None:
    from services.verification.cases import flows

    env = verification.app.state.verification
    with verification.app.state.db.session() as db:
        for number in range(520):
            case = flows.open_case(
                db,
                env,
                account_id=f"{number:032x}",
                kind="callback",
                opening_step="callback_requested",
                actor="customer",
                channel="portal",
                now=verification.clock.now(),
            )
            case.needs_staff = True
        db.commit()

    seen = follow(lambda cursor: _queue_page(verification, 100, cursor))

    assert len(seen) == len({case["id"] for case in seen}) == 520
