"""May this account order now? Auth's answer, behind a small interface tests can replace.

Orders asks auth ``GET {auth}/internal/accounts/{id}/standing`` with a service token before
taking any money. **When auth cannot be reached, or answers nonsense, orders fails closed**:
``503 standing_unavailable``, no order written, nothing authorised or charged. Taking an order
from a frozen account because auth was down is the failure S2 is about; a customer retrying a
few seconds later is not. The question names the caller's session too: auth answers an ended one
``401 session_revoked`` (:class:`SessionEnded`), so an order from a session ended a moment ago is
refused even before orders' own list of ended sessions (``mamori_common/revocations.py``) has it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import httpx
from pydantic import ValidationError

from mamori_common.contract import ACCOUNT_STANDING_PATH, STANDING_SESSION_PARAM, AccountStanding, case_number
from mamori_common.internal_http import send_sync
from mamori_common.observability import outgoing_headers
from mamori_common.problems import Problem
from mamori_common.replicas import ReplicaSet
from mamori_common.service_auth import mint_service_token
from mamori_common.service_keys import ServiceKey
from mamori_common.tokens import session_revoked


class StandingUnavailable(Exception):
    """Auth did not give a usable answer."""


class SessionEnded(Exception):
    """Auth says the caller's session has ended."""


class StandingClient(Protocol):
    def standing(self, account_id: str, session_id: str | None = None) -> AccountStanding: ...


class HttpStandingClient:
    """Asks any of auth's replicas (``mamori_common/internal_http.py``): a GET, so a replica that
    is down, hung or failing is passed over and the next one asked within the same request."""

    def __init__(self, auth: ReplicaSet, key: ServiceKey, timeout: float) -> None:
        self.auth = auth
        self.key = key
        self.timeout = timeout
        self.client = httpx.Client(timeout=timeout)

    def standing(self, account_id: str, session_id: str | None = None) -> AccountStanding:
        token = mint_service_token(self.key, "auth")
        path = ACCOUNT_STANDING_PATH.format(account_id=account_id)
        params = {STANDING_SESSION_PARAM: session_id} if session_id is not None else {}
        try:
            response = send_sync(
                self.client,
                self.auth,
                "GET",
                path,
                params=params,
                headers=outgoing_headers({"authorization": f"Bearer {token}"}),
            )
        except httpx.HTTPError as exc:
            raise StandingUnavailable(type(exc).__name__) from exc
        if response.status_code == 401 and _problem_code(response) == "session_revoked":
            raise SessionEnded(session_id)
        if response.status_code != 200:
            raise StandingUnavailable(f"HTTP {response.status_code}")
        try:
            return AccountStanding.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise StandingUnavailable("unreadable answer") from exc


def _problem_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


class RecordedStanding:
    """A recorded answer per account (in-process tests); an unknown account is unavailable, an
    ended session (:meth:`end_session`) is refused as auth refuses it."""

    def __init__(self, answers: Mapping[str, AccountStanding] | None = None) -> None:
        self.answers: dict[str, AccountStanding] = dict(answers or {})
        self.ended_sessions: set[str] = set()
        #: The session each question named, in order (what orders told auth).
        self.asked_sessions: list[str | None] = []

    def record(self, standing: AccountStanding) -> None:
        self.answers[standing.account_id] = standing

    def end_session(self, session_id: str) -> None:
        self.ended_sessions.add(session_id)

    def standing(self, account_id: str, session_id: str | None = None) -> AccountStanding:
        self.asked_sessions.append(session_id)
        if session_id in self.ended_sessions:
            raise SessionEnded(session_id)
        if account_id not in self.answers:
            raise StandingUnavailable("no recorded answer")
        return self.answers[account_id]


def require_can_order(client: StandingClient, account_id: str, session_id: str) -> AccountStanding:
    """The standing of an account that may order from this session, or the problem to answer."""
    try:
        standing = client.standing(account_id, session_id)
    except SessionEnded as exc:
        raise session_revoked() from exc
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
