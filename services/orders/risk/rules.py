"""The risk rules an order passes before money moves (stories S2, S3), in one place.

Each rule is a named pure function of :class:`OrderFacts` and the settings, answering ``None``
(nothing to say) or a :class:`Finding`: hold for verification, or block, with a reason code the
customer is shown (texts in ``catalogue.py``). :func:`evaluate` runs them all: any block blocks,
else any hold holds (every reason kept), else the order is allowed. Thresholds are settings in
``OrdersSettings`` (``risk_*``); tested alone in tests/orders/test_risk_rules.py.

Why these rules:

* **Gift cards and top-ups at or over the limit** (``risk_gift_and_top_up_limit``, 50,000 yen):
  they turn a stolen card or account into cash at once, the intruder's favourite (S2's 50,000-yen
  top-up, S3). At the limit, not only above it: S2's top-up was exactly the limit.
* **Cardholder name unlike the account holder's**: someone else's card (S3's wife's card is the
  honest case; a verification case tells the two apart, a silent lock never does).
* **Several gift-card or top-up orders in 24 hours** (``risk_gift_or_top_up_orders_per_window``),
  the two counted together: cashing out in slices under the limit, whichever of the two it uses.
* **A top-up from a session or device younger than a day**
  (``risk_top_up_min_session_age_seconds``): a balance top-up is cash in the account, and S2's
  came from a session the intruder had just opened. The session's age is the access token's
  ``session_started_at`` (its ``auth_time`` from tokens that lack it); a device is young when no
  order of the account came from it before the last 24 hours.
* **A high-value order from a device or country first seen today** (``risk_high_value_amount``):
  the access-pattern signal of S2.
* **Block above ``risk_block_amount``**: no verification makes such an order routine.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from services.orders.config import OrdersSettings


class Outcome(str, enum.Enum):
    allow = "allow"
    hold = "hold"
    block = "block"


@dataclass(frozen=True)
class Finding:
    outcome: Outcome
    reason: str


@dataclass(frozen=True)
class OrderFacts:
    """What the rules may look at: this order, and what the account's history says about it."""

    total: int
    gift_and_top_up_amount: int
    has_gift_card: bool
    account_holder_name: str
    card_holder_name: str | None
    #: Earlier orders of the account with a gift card or a top-up, within the velocity window.
    recent_gift_or_top_up_orders: int
    device_first_seen_today: bool
    country_first_seen_today: bool
    has_top_up: bool = False
    #: Seconds since the ordering session began; None when nobody knows (then it counts as young).
    session_age_seconds: float | None = None
    #: The order names a device no earlier order of the account came from before the last day.
    device_younger_than_a_day: bool = False


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: list[str] = field(default_factory=list)


def gift_or_top_up_over_limit(facts: OrderFacts, settings: OrdersSettings) -> Finding | None:
    if facts.gift_and_top_up_amount and facts.gift_and_top_up_amount >= settings.risk_gift_and_top_up_limit:
        return Finding(Outcome.hold, "gift_or_top_up_over_limit")
    return None


def normalised_name(name: str) -> str:
    """Case, width, spaces and order of the words do not make a different person."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(sorted(folded.replace(",", " ").split()))


def cardholder_differs(facts: OrderFacts, settings: OrdersSettings) -> Finding | None:
    if not facts.card_holder_name or not facts.account_holder_name.strip():
        return None  # no card, or auth knows no name to compare with
    if normalised_name(facts.card_holder_name) != normalised_name(facts.account_holder_name):
        return Finding(Outcome.hold, "cardholder_name_differs")
    return None


def gift_or_top_up_velocity(facts: OrderFacts, settings: OrdersSettings) -> Finding | None:
    cash_like = facts.has_gift_card or facts.has_top_up
    if cash_like and facts.recent_gift_or_top_up_orders + 1 >= settings.risk_gift_or_top_up_orders_per_window:
        return Finding(Outcome.hold, "gift_or_top_up_velocity")
    return None


def top_up_from_young_session_or_device(facts: OrderFacts, settings: OrdersSettings) -> Finding | None:
    if not facts.has_top_up:
        return None
    age = facts.session_age_seconds
    if age is None or age < settings.risk_top_up_min_session_age_seconds or facts.device_younger_than_a_day:
        return Finding(Outcome.hold, "top_up_from_new_session_or_device")
    return None


def high_value_from_new_device_or_country(facts: OrderFacts, settings: OrdersSettings) -> Finding | None:
    is_new = facts.device_first_seen_today or facts.country_first_seen_today
    if is_new and facts.total >= settings.risk_high_value_amount:
        return Finding(Outcome.hold, "high_value_new_device_or_country")
    return None


def amount_over_block_limit(facts: OrderFacts, settings: OrdersSettings) -> Finding | None:
    if facts.total > settings.risk_block_amount:
        return Finding(Outcome.block, "amount_over_block_limit")
    return None


RULES: tuple[Callable[[OrderFacts, OrdersSettings], Finding | None], ...] = (
    amount_over_block_limit,
    gift_or_top_up_over_limit,
    cardholder_differs,
    gift_or_top_up_velocity,
    top_up_from_young_session_or_device,
    high_value_from_new_device_or_country,
)


def evaluate(facts: OrderFacts, settings: OrdersSettings) -> Decision:
    findings = [finding for rule in RULES if (finding := rule(facts, settings)) is not None]
    blocks = [finding.reason for finding in findings if finding.outcome is Outcome.block]
    if blocks:
        return Decision(Outcome.block, blocks)
    holds = [finding.reason for finding in findings if finding.outcome is Outcome.hold]
    if holds:
        return Decision(Outcome.hold, holds)
    return Decision(Outcome.allow, [])
