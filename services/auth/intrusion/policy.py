"""When does a session look like an intruder's? The rules of story S2, as pure functions.

The store in S2 saw the intrusion from the access pattern, not the goods: a sign-in from a device
and a country the owner never used, then, in that same session, the moves an intruder makes to
keep the account or cash it out: a new password or e-mail address (the owner is shut out), a card
the account never paid with (a stolen one), gift cards or balance top-ups (cash). Each alone is
what owners do every day (a trip abroad, a new phone, a new card); together they are the pattern.

* **Acts** (restrict the account and open the intrusion case, tell the owner at once) when the
  session came from a new device *and* a new country and made two different moves (S2: a new
  address, then a gift card; a stolen card buying a gift card), or came from a new device *or* a
  new country and made three. One move alone is an owner's ordinary day abroad with a new phone:
  orders' own risk holds still stand between it and the money.
* A session with nothing new about it is never judged here: the owner's own device at home is
  not an intruder, whatever it changes or buys (orders' risk holds still apply to what it buys).
* A session the policy acted on is not acted on again.

Signals arrive from auth itself (changes of password, e-mail, phone, TOTP) and from orders
(``order.risk_signals``: a new payment tender, gift-card and top-up orders).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Novelty(str, enum.Enum):
    """What was new about the sign-in that opened the session."""

    new_device = "new_device"
    new_country = "new_country"


class Move(str, enum.Enum):
    """What the session did that an intruder does to keep the account or cash it out."""

    password_change = "password_change"
    email_change = "email_change"
    phone_change = "phone_change"
    totp_change = "totp_change"
    new_tender = "new_tender"
    gift_card_order = "gift_card_order"
    top_up_order = "top_up_order"


#: Account changes (``changes.models.ChangeKind`` values) that count as a move.
MOVE_OF_CHANGE = {
    "password": Move.password_change,
    "email": Move.email_change,
    "phone": Move.phone_change,
    "totp": Move.totp_change,
}

#: Moves needed when both the device and the country are new, and when only one of them is.
MOVES_WITH_BOTH_NEW = 2
MOVES_WITH_ONE_NEW = 3


@dataclass(frozen=True)
class Verdict:
    act: bool
    #: Why, in the order the customer reads it: the novelties, then the moves.
    reasons: tuple[str, ...] = ()


def moves_of(values: Iterable[str]) -> frozenset[Move]:
    """The known moves among ``values`` (an unknown value from a newer producer is ignored)."""
    known = {move.value for move in Move}
    return frozenset(Move(value) for value in values if value in known)


def judge_session(novelties: Iterable[Novelty], moves: Iterable[Move], *, already_acted: bool = False) -> Verdict:
    """Does this session's pattern call for restricting the account and opening the case?"""
    new = frozenset(novelties)
    done = frozenset(moves)
    if already_acted or not new:
        return Verdict(False)
    needed = MOVES_WITH_BOTH_NEW if len(new) == len(Novelty) else MOVES_WITH_ONE_NEW
    if len(done) < needed:
        return Verdict(False)
    reasons = [item.value for item in Novelty if item in new] + [item.value for item in Move if item in done]
    return Verdict(True, tuple(reasons))
