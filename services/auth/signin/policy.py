"""The sign-in rules of story S1, in one place: who waits, who steps up, who is locked, how long.

Every number is a setting in :class:`~services.auth.config.AuthSettings`; these functions hold no
state and touch no database, so each rule is tested on its own (tests/auth/test_signin_policy.py).

The shape of the policy, and why:

* **Clients wait, accounts do not.** A client address past ``throttle_client_free_failures``
  failures waits ``throttle_client_base_delay_seconds * 2^(n-1)`` seconds after its n-th further
  failure, at most ``throttle_client_max_delay_seconds`` (429 with Retry-After). A waiting client
  is turned away before any password is hashed. Delaying an *account* would let anyone who knows
  the address keep its owner out, so an account under attack asks for a step-up instead.
* **Step-up before lock.** The right password still needs a step-up (a mailed code, or TOTP when
  enrolled) when the account is under attack (``step_up_after_account_failures`` failures within
  ``step_up_window_seconds`` from clients it never signed in from), from a new device or a new
  country, after failed step-ups or a lock since the last sign-in, with TOTP enrolled unless from a
  device it recognises by its server-issued token at an address it knows (a remembered device
  never waives the factor on a sign-in that is otherwise risky), or when another service asked for one (``account.stepup_required``: from any
  device, known or not, until a sign-in passes one).
* **Locks come only from failed step-ups**, that is from someone who had the password:
  ``lock_after_failed_step_ups`` wrong answers lock the account for
  ``lock_seconds * 2^(earlier locks)``, never longer than ``lock_max_seconds``. Bare guesses never
  lock anything, and the owner can unlock at any time by self-service (mailed code + new password).
* **"Passkey required"** (the customer's choice, ``accounts.passkey_required``, on only while the
  account has a passkey): the right password always asks a step-up, from every device, and the
  only answers are the passkey or a recovery code, never a mailed code or TOTP. A stolen password,
  even with the mailbox or the phone, then opens nothing (stories S2 and S5); the recovery codes
  keep the owner from being locked out by a lost passkey. Otherwise an account with a passkey is
  offered it first wherever a step-up is asked (it cannot be phished: it signs only for our
  origin), the other methods after it.
* **Staff step up on every sign-in**, from every device, with their passkey or TOTP (or a recovery
  code), never a mailed code; a staff account with neither may only enrol one
  (``services/auth/staff/second_factor.py``).
* **At most ``max_consecutive_failures`` consecutive failures** (NIST SP 800-63B 5.2.2). The
  simplest rule that meets it: from that many consecutive failures on, the password alone gets no
  verdict any more. Every attempt on the account, right password or wrong, answers
  ``challenge_required``; a code is mailed only when the password was right, and passing the
  challenge of a wrong password still answers ``invalid_credentials``. Guesses beyond the limit
  therefore learn nothing, while the owner types the password, gets the mailed code and is in
  (or, if the account is locked, learns so then, with the way to unlock it).
  Challenges of wrong passwords cannot be passed by anyone, so failing them never locks the
  account: an attacker who knows only the e-mail address can neither learn the password nor lock
  the owner out. The streak resets on every sign-in that passed its checks.
* **An unknown address follows the same guard.** Its failures are counted like an account's streak
  (under the address's digest), and from ``max_consecutive_failures`` on it answers a decoy
  ``challenge_required`` of the same shape, after the same one Argon2 verification; the decoy can
  never be passed and its wrong codes answer like a real guard challenge's. Otherwise the 101st
  guess would tell a registered address (challenge) from an unknown one (401).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.auth.accounts.models import Account, AccountState
from services.auth.accounts.standing import standing_of
from services.auth.config import AuthSettings
from services.auth.signin.risk import RiskSignals


def client_delay_seconds(failures: int, settings: AuthSettings) -> int:
    """How long a client waits after its ``failures``-th failure in the window (0: no wait)."""
    beyond = failures - settings.throttle_client_free_failures
    if beyond <= 0:
        return 0
    exponent = min(beyond - 1, 30)  # 2^30 s is far past any sane maximum; keeps the number small
    return int(
        min(settings.throttle_client_base_delay_seconds * 2**exponent, settings.throttle_client_max_delay_seconds)
    )


def lock_duration(account: Account, settings: AuthSettings) -> timedelta:
    """``lock_seconds`` doubled for each earlier lock since the last sign-in, capped at the max."""
    exponent = min(account.lock_count, 30)
    return timedelta(seconds=min(settings.lock_seconds * 2**exponent, settings.lock_max_seconds))


def should_lock(failed_step_ups: int, settings: AuthSettings) -> bool:
    return failed_step_ups >= settings.lock_after_failed_step_ups


def in_consecutive_failure_guard(failure_streak: int, settings: AuthSettings) -> bool:
    """NIST 5.2.2: past this many consecutive failures the password alone gets no verdict.

    ``failure_streak`` is an account's, or an unknown address's (which then gets a decoy)."""
    return failure_streak >= settings.max_consecutive_failures


class Action(str, enum.Enum):
    allow = "allow"
    #: 401 invalid_credentials, the same answer as for an unknown address.
    reject = "reject"
    step_up = "step_up"
    locked = "locked"
    closed = "closed"


class StepUpReason(str, enum.Enum):
    under_attack = "under_attack"
    new_device = "new_device"
    new_country = "new_country"
    after_failed_step_ups = "after_failed_step_ups"
    second_factor = "second_factor"
    consecutive_failures = "consecutive_failures"
    #: Another service (orders, on a risky order) asked for a step-up at the next sign-in.
    requested = "requested"
    #: The customer chose "passkey required": a password never signs in by itself.
    passkey_required = "passkey_required"
    #: Staff (specialist, support, admin) step up on every sign-in (``staff/second_factor.py``).
    staff = "staff"


@dataclass(frozen=True)
class Decision:
    action: Action
    reasons: tuple[StepUpReason, ...] = field(default=())
    #: False for the challenge of a wrong password in the consecutive-failure guard: it can
    #: never be passed, so no code is mailed and failing it locks nothing.
    password_ok: bool = True


def decide_sign_in(
    account: Account | None,
    *,
    password_ok: bool,
    signals: RiskSignals,
    foreign_failures: int,
    now: datetime,
    settings: AuthSettings,
    unknown_address_failures: int = 0,
) -> Decision:
    """What a password sign-in gets. See the module docstring for the rules and their reasons.

    ``unknown_address_failures`` is the streak of an address no account has (``account`` None)."""
    if account is None:
        if in_consecutive_failure_guard(unknown_address_failures, settings):
            return Decision(Action.step_up, (StepUpReason.consecutive_failures,), password_ok=False)
        return Decision(Action.reject, password_ok=False)
    if in_consecutive_failure_guard(account.failure_streak, settings):
        # Even a lock shows only after the step-up: a 423 here would tell the right password.
        return Decision(Action.step_up, (StepUpReason.consecutive_failures,), password_ok=password_ok)
    # Restrictions never change a sign-in's answer (a restricted account signs in to see its case),
    # so the standing is read without them.
    state = standing_of(account, (), now=now).state
    if not password_ok or state is AccountState.frozen:
        return Decision(Action.reject, password_ok=False)
    if state is AccountState.closed:
        return Decision(Action.closed)
    if state is AccountState.locked:
        return Decision(Action.locked)
    reasons = step_up_reasons(account, signals, foreign_failures, settings)
    return Decision(Action.step_up, reasons) if reasons else Decision(Action.allow)


def step_up_reasons(
    account: Account, signals: RiskSignals, foreign_failures: int, settings: AuthSettings
) -> tuple[StepUpReason, ...]:
    """Why the right password is not enough this time (empty: it is)."""
    reasons = []
    if foreign_failures >= settings.step_up_after_account_failures:
        reasons.append(StepUpReason.under_attack)
    if signals.new_device:
        reasons.append(StepUpReason.new_device)
    if signals.new_country:
        reasons.append(StepUpReason.new_country)
    if account.lock_count > 0 or account.failed_step_ups > 0:
        reasons.append(StepUpReason.after_failed_step_ups)
    if account.totp_enabled and not signals.familiar:
        reasons.append(StepUpReason.second_factor)
    if account.step_up_reason is not None:
        reasons.append(StepUpReason.requested)
    if account.passkey_required:
        reasons.append(StepUpReason.passkey_required)
    if account.is_staff:  # every time, from every device
        reasons.append(StepUpReason.staff)
    return tuple(reasons)


# -- the factors a sign-in owes (the one door, :mod:`services.auth.signin.factors`) ----------------


class Proof(str, enum.Enum):
    """What one sign-in has shown so far (kept in its challenge row between the steps)."""

    password = "password"
    #: A mailed sign-in code, an unlock code, or a password reset made from this client.
    mailbox = "mailbox"
    totp = "totp"
    recovery_code = "recovery_code"
    passkey = "passkey"
    #: A device the account knows, on a password sign-in the rules above found nothing risky in.
    remembered_device = "remembered_device"


#: The proofs an intruder holding the password and the mailbox still lacks.
STRONG_PROOFS = frozenset({Proof.passkey, Proof.totp, Proof.recovery_code})

#: The proof each step-up method gives.
METHOD_PROOFS = {
    "email_code": Proof.mailbox,
    "totp": Proof.totp,
    "recovery_code": Proof.recovery_code,
    "passkey": Proof.passkey,
}

#: What a staff account with no second factor owes: nothing completes its sign-in but enrolling
#: one (``services/auth/staff/second_factor.py`` answers with an enrolment-only token).
ENROL = "enrol"

#: What every challenge of the consecutive-failure guard lists, whatever the account enrolled
#: (and for an address nobody registered): its answer must not tell one account from another.
GUARD_METHODS = ["passkey", "totp", "recovery_code", "email_code"]


@dataclass(frozen=True)
class Enrolled:
    """The factors an account has enrolled, as the door reads them."""

    totp: bool = False
    passkey: bool = False
    passkey_required: bool = False
    recovery_codes: bool = False
    #: Specialist, support, admin: a passkey or TOTP on every sign-in, never the mailbox.
    staff: bool = False

    @property
    def second_factor(self) -> bool:
        return self.totp or self.passkey


def methods_owed(proofs: frozenset[Proof], enrolled: Enrolled, *, risky: bool) -> list[str]:
    """The step-up methods that would still complete this sign-in; empty: nothing is owed.

    The invariant every token-issuing path meets through it: an account with TOTP or a passkey
    signs in only once one of its enrolled factors (or a recovery code, their backup) was shown in
    this very sign-in. The mailbox never stands in for them: a mailed code, an unlock code and a
    reset prove the mailbox, which an intruder may hold (stories S2, S5). The one waiver is a
    remembered device on a sign-in with nothing risky about it; a risky one (``risky``: the rules
    above asked a step-up) owes the factor on every device. Staff owe their passkey or TOTP (or a
    recovery code) always, and :data:`ENROL` while they have neither. "Passkey required" owes the
    passkey or a recovery code, always. An account without a second factor owes the mailbox when ``risky``.
    """
    strong = STRONG_PROOFS
    if enrolled.staff:  # every sign-in, every device; with no factor yet, enrolment is all there is
        if proofs & strong:
            return []
        methods = (["passkey"] if enrolled.passkey else []) + (["totp", "recovery_code"] if enrolled.totp else [])
        return methods or [ENROL]
    if enrolled.passkey_required and enrolled.passkey:
        return [] if proofs & {Proof.passkey, Proof.recovery_code} else ["passkey", "recovery_code"]
    if enrolled.second_factor:
        if proofs & strong or (Proof.remembered_device in proofs and not risky):
            return []
        methods = ["passkey"] if enrolled.passkey else []
        methods += ["totp"] if enrolled.totp else []
        return methods + (["recovery_code"] if enrolled.totp or enrolled.recovery_codes else [])
    if not risky or proofs & {Proof.mailbox, *strong}:
        return []
    return ["email_code"]
