"""The events and internal calls between services: one place both sides import.

Every cross-service effect is one of these events (outbox → ``/internal/events`` → inbox), or the
one synchronous question orders asks auth before taking money (:data:`ACCOUNT_STANDING_PATH`), or the
pull of ended sessions every token-checking service makes (:data:`REVOCATIONS_PATH`).
A producer builds the payload with the model named here, a consumer validates it with the same
model, so a renamed field breaks a test on both sides at once. The shared package holds no domain
rules: what each side *does* with an event lives in that service.

Who publishes what, and who subscribes:

- ``account.locked``, ``account.unlocked`` (auth → verification): lockout case opened, closed.
- ``account.frozen`` (auth → verification): intrusion case opened under auth's id.
- ``session.compromised`` (auth → orders, verification): orders from those sessions held or undone.
- ``session.revoked`` (auth → orders, verification): sessions ended (logout, sign-out everywhere,
  freeze, reuse, reset...); their access tokens are refused at once (:mod:`mamori_common.revocations`).
- ``payment.held`` (orders → verification): payment-verification case opened, or joined.
- ``order.reported_not_mine`` (orders → verification): a "not me" case opened.
- ``case.activity`` (orders → verification): a step on a case, for its timeline.
- ``case.opened`` (verification → auth): the account restricted when the case says so.
- ``case.approved`` (verification → auth, orders): reinstated; held orders released or cancelled.
- ``case.rejected`` (verification → auth, orders): held orders cancelled; account closed if final.
- ``case.closed`` (verification → auth): the case's restriction lifted.
- ``account.stepup_required`` (orders → auth): a step-up at the next sign-in.
- ``order.risk_signals`` (orders → auth): what an order from a session said about it (a new
  tender, gift cards, top-ups), for auth's intrusion policy (story S2).
- ``notify`` (any → auth): a message filed in the message centre and mailed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ACCOUNT_LOCKED = "account.locked"
ACCOUNT_UNLOCKED = "account.unlocked"
ACCOUNT_FROZEN = "account.frozen"
SESSION_COMPROMISED = "session.compromised"
SESSION_REVOKED = "session.revoked"
PAYMENT_HELD = "payment.held"
ORDER_REPORTED_NOT_MINE = "order.reported_not_mine"
CASE_ACTIVITY = "case.activity"
CASE_OPENED = "case.opened"
CASE_APPROVED = "case.approved"
CASE_REJECTED = "case.rejected"
CASE_CLOSED = "case.closed"
ACCOUNT_STEPUP_REQUIRED = "account.stepup_required"
ORDER_RISK_SIGNALS = "order.risk_signals"
NOTIFY = "notify"

#: Auth's internal answer to "may this account order / change contact details now?" (service token).
ACCOUNT_STANDING_PATH = "/internal/accounts/{account_id}/standing"
#: The query parameter naming the caller's session: auth refuses an ended one (401 ``session_revoked``).
STANDING_SESSION_PARAM = "session_id"

#: Auth's internal list of sessions ended since a time (service token): ``?since=<ISO time>&after=<id>``.
REVOCATIONS_PATH = "/internal/revocations"

CaseKind = Literal["payment_verification", "intrusion", "lockout", "not_me", "callback"]

# Crockford's base32 without I, L, O, U: nothing a person reads aloud can be mistaken.
_READABLE = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def case_number(case_id: str) -> str:
    """The number a person reads aloud for a case (``C-7KQ2-9XM4``), derived from its id.

    Derived, not stored-and-sent, so auth can print it in the mail of a case it mints the id for
    before verification has even opened it. 40 bits: verification still refuses a duplicate.
    """
    digest = int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:5], "big")
    chars = "".join(_READABLE[(digest >> shift) & 31] for shift in range(35, -1, -5))
    return f"C-{chars[:4]}-{chars[4:]}"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")


class CaseOpened(_Payload):
    """Verification opened a case. ``restricts_account``: auth restricts until it is decided."""

    case_id: str
    case_number: str
    account_id: str
    kind: CaseKind
    restricts_account: bool
    reason: str = ""


class CaseApproved(_Payload):
    """Approved: auth lifts this case's restriction; orders releases (or cancels) the held orders."""

    case_id: str
    case_number: str
    account_id: str
    kind: CaseKind
    order_ids: list[str] = Field(default_factory=list)
    order_action: Literal["release", "cancel"] = "release"


class CaseRejected(_Payload):
    """Finally rejected: orders cancels held orders and voids their authorisations;
    ``close_account``: auth closes the account (after the set number of rounds and a second specialist)."""

    case_id: str
    case_number: str
    account_id: str
    kind: CaseKind
    order_ids: list[str] = Field(default_factory=list)
    close_account: bool = False
    reason_code: str = ""


class CaseClosed(_Payload):
    """Closed without a decision on the account (withdrawn, resolved elsewhere): restriction lifted."""

    case_id: str
    case_number: str
    account_id: str
    kind: CaseKind


class PaymentHeld(_Payload):
    """Orders held a payment for verification. A second held payment joins the open case."""

    order_id: str
    account_id: str
    amount: int
    currency: str = "JPY"
    card_last4: str | None = None
    holder_name: str | None = None
    reasons: list[str]


class OrderReportedNotMine(_Payload):
    """The customer reported an order as not theirs; ``actions`` says what orders already did."""

    order_id: str
    account_id: str
    actions: list[str] = Field(default_factory=list)
    #: The case's id, minted by orders so the answer to every report of the order names it;
    #: absent from older producers (the subscriber then mints one).
    case_id: str | None = None


class CaseActivity(_Payload):
    """Another service's step on a case, for its timeline (texts in both languages)."""

    case_id: str
    account_id: str
    summary_ja: str
    summary_en: str
    details: dict[str, object] = Field(default_factory=dict)


class StepUpRequired(_Payload):
    """Auth asks for a step-up at the account's next sign-in (it does not freeze)."""

    account_id: str
    reason: str
    case_id: str | None = None


#: What an order can say about the session that placed it (auth's ``intrusion/policy.py`` moves).
OrderSignal = Literal["new_tender", "gift_card_order", "top_up_order"]


class OrderRiskSignals(_Payload):
    """An order a session placed showed these signals; auth judges the session (story S2)."""

    account_id: str = Field(min_length=1, max_length=32)
    session_id: str = Field(min_length=1, max_length=64)
    order_id: str = Field(min_length=1, max_length=64)
    signals: list[OrderSignal] = Field(min_length=1, max_length=10)


#: An account's standing as other services see it (auth's ``AccountState`` values).
StandingState = Literal["active", "restricted", "locked", "frozen", "closed"]


class AccountStanding(BaseModel):
    """Auth's answer at :data:`ACCOUNT_STANDING_PATH`."""

    account_id: str
    state: StandingState
    can_order: bool
    can_change_contact: bool
    restricting_case_ids: list[str] = Field(default_factory=list)
    name: str = ""
    time_zone: str = "Asia/Tokyo"


class SessionRevoked(_Payload):
    """Auth ended these sessions: every service refuses their access tokens from now on."""

    account_id: str
    session_ids: list[str]
    reason: str
    revoked_at: datetime


class Revocation(BaseModel):
    """One ended session, as auth lists it at :data:`REVOCATIONS_PATH`."""

    session_id: str = Field(min_length=1, max_length=64)
    account_id: str = Field(min_length=1, max_length=64)
    revoked_at: datetime


class RevocationPage(BaseModel):
    """Sessions ended after the cursor, oldest first; ``more``: ask again after the last one."""

    revocations: list[Revocation]
    more: bool = False
