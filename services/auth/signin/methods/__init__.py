"""The step-up methods a sign-in challenge is answered with, and the registry they join.

Shaped after Ory Kratos' login strategies (``selfservice/flow/login/strategy.go``): each method is
one small object with a name, in a module of its own, and the flows know it only through
:class:`StepUpMethod`, never by its module. Each module registers its method when imported: the
mailed code, TOTP and recovery codes in this package, the passkey in
``services/auth/passkeys/step_up.py``. So sign-in never imports the passkey domain, whose sign-in
with a passkey alone goes through sign-in's door (:mod:`..factors`): the dependency runs one way.

Which methods an account owes, and in which order, stays a rule of :mod:`..policy`; a method
says only how it is asked for, whether an account has it, what a challenge offering it carries and
whether an answer passes. The auth app imports the four modules at start (its ``main.py``, as
Kratos' registry lists its strategies) and refuses to start if one the rules name is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session as DbSession

from mamori_common.problems import Problem
from services.auth.accounts.models import Account
from services.auth.env import AuthEnv
from services.auth.request_context import RequestContext
from services.auth.signin.challenges import CodeCheck
from services.auth.signin.models import Challenge


@dataclass(frozen=True)
class Ask:
    """One step-up challenge being opened, as each method it lists sees it."""

    #: None for the decoy an address nobody registered gets past the consecutive-failure guard.
    account: Account | None
    context: RequestContext
    now: datetime
    #: The account owes this method; False when only the guard's uniform list names it.
    owed: bool
    #: The consecutive-failure guard's challenge: the same shape for every account.
    guard: bool = False
    #: False for the guard's challenge of a wrong password: nothing is mailed for it.
    password_ok: bool = True
    #: The client is one the account knows (its code mails count against a smaller quota).
    known_client: bool = False


@dataclass(frozen=True)
class Offer:
    """What one method adds to a challenge that lists it."""

    #: Kept in the challenge row for the answer's check (a passkey's WebAuthn challenge).
    kept: dict[str, Any] = field(default_factory=dict)
    #: Added to the ``challenge_required`` answer (a passkey's request options).
    shown: dict[str, Any] = field(default_factory=dict)
    #: Not offered this time, and the answer when no other method is left (no code mail may go out).
    refusal: Problem | None = None
    #: Run once the challenge row exists (mailing the code bound to it).
    deliver: Callable[[Challenge], None] | None = None


@dataclass(frozen=True)
class Verdict:
    """One answer's check; ``problem`` replaces the plain "wrong answer" (a cloned passkey)."""

    check: CodeCheck
    problem: Problem | None = None


class StepUpMethod(Protocol):
    """A way to answer a sign-in step-up (Kratos: a login strategy and its ``ID()``)."""

    #: The ``method`` of ``completeChallenge`` and of a challenge's ``methods``.
    name: str
    #: How a ``challenge_required`` asks for it ("enter the code from your authenticator app").
    asks: str
    #: What a wrong answer says.
    wrong: str

    def enrolled(self, db: DbSession, account: Account) -> bool:
        """Whether the account has this method to answer with."""
        ...

    def offer(self, db: DbSession, env: AuthEnv, ask: Ask) -> Offer:
        """What a challenge listing this method carries; called before the challenge row exists."""
        ...

    def verify(
        self,
        db: DbSession,
        env: AuthEnv,
        account: Account,
        challenge: Challenge,
        *,
        code: str,
        credential: dict[str, Any] | None,
        context: RequestContext,
        now: datetime,
    ) -> Verdict:
        """Count one try and check the answer; the caller commits either way."""
        ...


_REGISTRY: dict[str, StepUpMethod] = {}

M = TypeVar("M", bound=StepUpMethod)


def register(method: M) -> M:
    """Add a method under its name (its module does this on import); two kinds under one name is a mistake."""
    known = _REGISTRY.get(method.name)
    if known is not None and type(known) is not type(method):
        raise RuntimeError(f"two step-up methods are named {method.name!r}: {known!r} and {method!r}")
    _REGISTRY[method.name] = method
    return method


def named(name: str) -> StepUpMethod:
    """The registered method of this name (the rules and the challenge rows name only those)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise LookupError(f"no step-up method {name!r} is registered (registered: {sorted(_REGISTRY)})") from None


def registered() -> dict[str, StepUpMethod]:
    """Every registered method by name, in the order they registered."""
    return dict(_REGISTRY)


def missing(names: Iterable[str]) -> list[str]:
    """Which of ``names`` no module registered (empty: the app may start)."""
    return [name for name in names if name not in _REGISTRY]


def count_try(challenge: Challenge, passed: bool, *, now: datetime) -> CodeCheck:
    """One try at a challenge answered by a factor (not a mailed code): spent on success, its
    tries counted either way, exhausted at the last."""
    challenge.attempts += 1
    if passed:
        challenge.consumed_at = now
        return CodeCheck.accepted
    return CodeCheck.exhausted if challenge.attempts >= challenge.max_attempts else CodeCheck.wrong
