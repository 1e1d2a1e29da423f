"""The account's standing, in one place: what it is, what it may do, and who may change it.

Every other domain asks this module; none sets ``account.state`` itself. The rules, and why:

* **Standing is derived from facts, never stored over them.** The facts are the lasting state in
  ``accounts.state`` (``active``, ``frozen`` or ``closed``), a temporary lock (``locked_until``,
  which ends by itself), the reset cool-down after a freeze (``reset_opens_at``; none while staff
  hold the reset), and one open restriction per undecided case that restricts the account
  (``account_restrictions``, written by verification's ``case.opened``). The standing is the
  first that holds of: closed, frozen, locked, restricted, active. A higher one hides a lower one
  but never erases it: a restriction is still there after a freeze, its reset and an unlock,
  because none of them touches the restriction rows.
* **What each standing may do** is :data:`MAY`. A restricted account signs in, sees its case and
  uploads documents (design.md: nobody is locked out silently), and may reset a forgotten
  password; it cannot order or change its contact details or credentials, since those are what an
  intruder changes first. A locked account's password alone gets a 423 naming the self-service
  unlock, and a reset (which proves the mailbox, as the unlock does) lifts the lock. A frozen
  account may only reset its password, once the cool-down is over. A closed one may do nothing.
* **Who may make each transition, from which standings**, is :data:`TRANSITIONS`. Locks come
  from the system alone (failed step-ups); restrictions, their lifting and closing come from the
  system on verification's events; the customer unlocks, reports a change (which freezes) and
  recovers by reset; specialists and admins freeze, unlock and open a held reset; support staff
  only read.

Everything here is a pure function of an :class:`Account` row and its restrictions, tested
table by table in ``tests/auth/test_account_standing.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from mamori_common.contract import case_number
from mamori_common.problems import Problem
from services.auth.accounts.models import Account, AccountState


class Capability(str, enum.Enum):
    sign_in = "sign_in"
    see_case = "see_case"
    upload = "upload"
    order = "order"
    #: E-mail address and phone number.
    change_contact = "change_contact"
    change_password = "change_password"
    change_totp = "change_totp"
    reset_password = "reset_password"


_EVERYTHING = frozenset(Capability)

#: What each standing may do. ``frozen`` resets only once the cool-down is over (see :func:`standing_of`).
MAY: dict[AccountState, frozenset[Capability]] = {
    AccountState.active: _EVERYTHING,
    AccountState.restricted: frozenset(
        {Capability.sign_in, Capability.see_case, Capability.upload, Capability.reset_password}
    ),
    AccountState.locked: frozenset({Capability.see_case, Capability.upload, Capability.reset_password}),
    AccountState.frozen: frozenset({Capability.reset_password}),
    AccountState.closed: frozenset(),
}


class Actor(str, enum.Enum):
    customer = "customer"
    system = "system"
    specialist = "specialist"
    support = "support"
    admin = "admin"


class Transition(str, enum.Enum):
    lock = "lock"
    unlock = "unlock"
    freeze = "freeze"
    #: Staff open a frozen account's reset now (cool-down over, or a held reset released).
    open_reset = "open_reset"
    #: A password reset: ends a lock, and a freeze whose cool-down is over.
    recover = "recover"
    restrict = "restrict"
    lift_restriction = "lift_restriction"
    close = "close"


@dataclass(frozen=True)
class Rule:
    from_states: frozenset[AccountState]
    actors: frozenset[Actor]


_LIVE = frozenset({AccountState.active, AccountState.restricted, AccountState.locked})
_NOT_CLOSED = _LIVE | {AccountState.frozen}

TRANSITIONS: dict[Transition, Rule] = {
    Transition.lock: Rule(frozenset({AccountState.active, AccountState.restricted}), frozenset({Actor.system})),
    Transition.unlock: Rule(
        frozenset({AccountState.locked}), frozenset({Actor.customer, Actor.specialist, Actor.admin})
    ),
    Transition.freeze: Rule(_LIVE, frozenset({Actor.customer, Actor.system, Actor.specialist, Actor.admin})),
    Transition.open_reset: Rule(frozenset({AccountState.frozen}), frozenset({Actor.specialist, Actor.admin})),
    Transition.recover: Rule(_NOT_CLOSED, frozenset({Actor.customer})),
    Transition.restrict: Rule(_NOT_CLOSED, frozenset({Actor.system})),
    Transition.lift_restriction: Rule(_NOT_CLOSED, frozenset({Actor.system})),
    Transition.close: Rule(_NOT_CLOSED, frozenset({Actor.system})),
}

#: The 409 a transition answers when the standing does not allow it (a closed account: ``account_closed``).
_WRONG_STANDING = {
    Transition.lock: ("not_lockable", "This account cannot be locked now."),
    Transition.unlock: ("not_locked", "This account is neither locked nor frozen."),
    Transition.freeze: ("already_frozen", "This account is already frozen."),
    Transition.open_reset: ("not_frozen", "This account is not frozen."),
    Transition.recover: ("account_closed", "This account is closed."),
    Transition.restrict: ("account_closed", "This account is closed."),
    Transition.lift_restriction: ("account_closed", "This account is closed."),
    Transition.close: ("account_closed", "This account is closed."),
}


@dataclass(frozen=True)
class Restriction:
    """An undecided case that restricts the account."""

    case_id: str
    kind: str
    reason: str = ""

    @property
    def case_number(self) -> str:
        return case_number(self.case_id)


@dataclass(frozen=True)
class Standing:
    state: AccountState
    #: The case behind the state: the freeze's or closure's, the lock's, or the first restricting one.
    case_id: str | None
    reason: str | None
    #: Only while a lock is in force.
    locked_until: datetime | None
    #: Frozen and the reset not open yet (``reset_opens_at`` ahead, or held by staff).
    reset_cooling_down: bool
    restrictions: tuple[Restriction, ...]
    capabilities: frozenset[Capability]

    def may(self, capability: Capability) -> bool:
        return capability in self.capabilities

    @property
    def case_number(self) -> str | None:
        return case_number(self.case_id) if self.case_id else None

    @property
    def restricting_case_ids(self) -> list[str]:
        return [item.case_id for item in self.restrictions]


def lock_in_force(account: Account, now: datetime) -> bool:
    """A lock holds until ``locked_until`` and ends by itself then; nothing needs to lift it."""
    return account.locked_until is not None and account.locked_until > now


def reset_cooling_down(account: Account, now: datetime) -> bool:
    """A frozen account's reset stays shut until ``reset_opens_at`` (never, while None)."""
    return account.state is AccountState.frozen and (account.reset_opens_at is None or now < account.reset_opens_at)


def standing_of(account: Account, restrictions: Iterable[Restriction], *, now: datetime) -> Standing:
    """The account's standing from its facts (module docstring: the order, and why)."""
    held = tuple(restrictions)
    cooling = reset_cooling_down(account, now)
    locked_until = account.locked_until if lock_in_force(account, now) else None
    state: AccountState
    if account.state in (AccountState.closed, AccountState.frozen):
        state, case_id, reason = account.state, account.state_case_id, account.state_reason
    elif locked_until is not None:
        state, case_id, reason = AccountState.locked, account.lock_case_id, account.lock_reason
    elif held:
        state, case_id, reason = AccountState.restricted, held[0].case_id, held[0].reason or None
    else:
        state, case_id, reason = AccountState.active, None, None
    capabilities = MAY[state] - ({Capability.reset_password} if cooling else set())
    return Standing(state, case_id, reason, locked_until, cooling, held, frozenset(capabilities))


def may_make(transition: Transition, actor: Actor, standing: Standing) -> bool:
    rule = TRANSITIONS[transition]
    return actor in rule.actors and standing.state in rule.from_states


def ensure_may_make(transition: Transition, actor: Actor, standing: Standing) -> None:
    """403 when this actor never makes the transition; 409 when the standing does not allow it now."""
    rule = TRANSITIONS[transition]
    if actor not in rule.actors:
        raise Problem(403, "forbidden", f"{actor.value} may not {transition.value.replace('_', ' ')} an account.")
    if standing.state in rule.from_states:
        return
    if standing.state is AccountState.closed:
        raise Problem(409, "account_closed", "This account is closed.")
    code, detail = _WRONG_STANDING[transition]
    raise Problem(
        409, code, detail, state=standing.state.value, case_id=standing.case_id, case_number=standing.case_number
    )


_REFUSALS = {
    Capability.change_contact: "This account cannot change its contact details until its case is resolved.",
    Capability.change_password: "This account cannot change its password until its case is resolved.",
    Capability.change_totp: "This account cannot change its sign-in settings until its case is resolved.",
    Capability.order: "This account cannot order until its case is resolved.",
}


def ensure_may(standing: Standing, capability: Capability) -> None:
    """403 ``account_restricted`` naming the case (id and readable number) when the standing forbids it."""
    if standing.may(capability):
        return
    raise Problem(
        403,
        "account_restricted",
        _REFUSALS.get(capability, "This account cannot do this until its case is resolved."),
        state=standing.state.value,
        case_id=standing.case_id,
        case_number=standing.case_number,
        restricting_case_ids=standing.restricting_case_ids,
        restricting_case_numbers=[item.case_number for item in standing.restrictions],
    )


# -- the transitions' effect on the account row (the caller checked ensure_may_make) ------------


def clear_step_up_failures(account: Account) -> None:
    account.failure_streak = 0
    account.failed_step_ups = 0


def end_lock(account: Account) -> str | None:
    """Lift the lock (in force or run out); return the lock's case id."""
    case_id = account.lock_case_id
    account.locked_until = None
    account.lock_case_id = None
    account.lock_reason = None
    return case_id


def unlock(account: Account) -> str | None:
    """``unlock``: the lock ends and the failure counts start over; return the lock's case id."""
    clear_step_up_failures(account)
    return end_lock(account)


def freeze(account: Account, *, case_id: str, reason: str, now: datetime, reset_opens_at: datetime | None) -> None:
    """``freeze``: the password is invalidated and a reset opens at ``reset_opens_at`` (None: held).

    A lock ends (the freeze is stronger and has its own case); restrictions stay.
    """
    account.state = AccountState.frozen
    account.state_reason = reason
    account.state_case_id = case_id
    account.frozen_at = now
    account.password_hash = None
    account.reset_opens_at = reset_opens_at
    end_lock(account)
    clear_step_up_failures(account)


def open_reset(account: Account, *, now: datetime) -> None:
    account.reset_opens_at = now
    clear_step_up_failures(account)


def recover(account: Account) -> str | None:
    """``recover`` (a new password set by reset): a lock ends, a freeze ends; return the freeze's case."""
    clear_step_up_failures(account)
    end_lock(account)
    if account.state is not AccountState.frozen:
        return None
    case_id = account.state_case_id
    account.state = AccountState.active
    account.state_reason = None
    account.state_case_id = None
    account.frozen_at = None
    account.reset_opens_at = None
    return case_id


def close(account: Account, *, case_id: str, reason: str) -> None:
    account.state = AccountState.closed
    account.state_case_id = case_id
    account.state_reason = reason
    account.reset_opens_at = None
    end_lock(account)
