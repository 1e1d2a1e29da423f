"""May this account order now? Auth's answer, behind a small interface tests can replace.

Orders asks auth ``GET {auth}/internal/accounts/{id}/standing`` with a service token before
taking any money. **When auth cannot be reached, or answers nonsense, orders fails closed**:
``503 standing_unavailable``, no order written, nothing authorised or charged. Taking an order
from a frozen account because auth was down is the failure S2 is about; a customer retrying a
few seconds later is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import httpx
from pydantic import ValidationError

from mamori_common.contract import ACCOUNT_STANDING_PATH, AccountStanding, case_number
from mamori_common.internal_http import send_sync
from mamori_common.observability import outgoing_headers
from mamori_common.problems import Problem
from mamori_common.replicas import ReplicaSet
from mamori_common.service_auth import mint_service_token


class StandingUnavailable(Exception):
    """Auth did not give a usable answer."""


class StandingClient(Protocol):
    def standing(self, account_id: str) -> AccountStanding: ...


class HttpStandingClient:
    """Asks any of auth's replicas (``mamori_common/internal_http.py``): a GET, so a replica that
    is down, hung or failing is passed over and the next one asked within the same request."""

    def __init__(self, auth: ReplicaSet, secret: str, timeout: float) -> None:
        self.auth = auth
        self.secret = secret
        self.timeout = timeout
        self.client = httpx.Client(timeout=timeout)

    def standing(self, account_id: str) -> AccountStanding:
        token = mint_service_token(self.secret, "orders", "auth")
        path = ACCOUNT_STANDING_PATH.format(account_id=account_id)
        try:
            response = send_sync(
                self.client, self.auth, "GET", path, headers=outgoing_headers({"authorization": f"Bearer {token}"})
            )
        except httpx.HTTPError as exc:
            raise StandingUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise StandingUnavailable(f"HTTP {response.status_code}")
        try:
            return AccountStanding.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise StandingUnavailable("unreadable answer") from exc


class RecordedStanding:
    """A recorded answer per account (in-process tests); an unknown account is unavailable."""

    def __init__(self, answers: Mapping[str, AccountStanding] | None = None) -> None:
        self.answers: dict[str, AccountStanding] = dict(answers or {})

    def record(self, standing: AccountStanding) -> None:
        self.answers[standing.account_id] = standing

    def standing(self, account_id: str) -> AccountStanding:
        if account_id not in self.answers:
            raise StandingUnavailable("no recorded answer")
        return self.answers[account_id]


def require_can_order(client: StandingClient, account_id: str) -> AccountStanding:
    """The standing of an account that may order, or the problem to answer."""
    try:
        standing = client.standing(account_id)
    except StandingUnavailable as exc:
        raise Problem(
            503,
            "standing_unavailable",
            "We could not confirm your account's standing just now. Nothing was ordered or charged; "
            "please try again in a moment.",
        ) from exc
    if not standing.can_order:
        raise Problem(
            403,
            "account_restricted",
            f"This account cannot place orders while it is {standing.state}"
            + (
                f" (case {', '.join(case_number(c) for c in standing.restricting_case_ids)})."
                if standing.restricting_case_ids
                else "."
            ),
            state=standing.state,
            case_ids=standing.restricting_case_ids,
            case_numbers=[case_number(case_id) for case_id in standing.restricting_case_ids],
        )
    return standing
