"""``login``: the password sign-in (story S1).

The rules (who waits, who steps up, who is locked) are in :mod:`.policy`; the counters in
:mod:`.throttle`; the history a decision reads in :mod:`.risk`. One request reads, decides, writes
what happened (attempt row, counters, messages, events, audit) in one transaction, commits, and
only then answers, so a 401 or a 423 leaves its trace.

Answers a guesser could learn from are kept uniform: an unknown address, a wrong password and a
frozen account (whose password was invalidated) all cost one Argon2 verification and answer the
same 401 ``invalid_credentials``; a lock (423) is shown only to the right password. Past the
consecutive-failure guard an unknown address gets a decoy challenge (:mod:`.decoy`), answered
like a real one. A password that got no refusal goes through the door (:mod:`.factors`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session as DbSession

from mamori_common.problems import Problem
from mamori_common.quotas import rate_limited
from services.auth.accounts.models import Account
from services.auth.accounts.service import find_by_email, normalise_email
from services.auth.request_context import RequestContext
from services.auth.sessions.service import TokenPair
from services.auth.signin import factors, policy, risk, service
from services.auth.signin.answers import account_closed, account_locked, invalid_credentials
from services.auth.signin.decoy import open_decoy
from services.auth.signin.factors import SignInEnv
from services.auth.signin.models import SignInOutcome
from services.auth.signin.policy import Action, Decision, Proof, StepUpReason
from services.auth.signin.throttle import Throttle, account_key


def turn_away(throttle: Throttle, context: RequestContext, email: str) -> None:
    """Refuse a waiting client before anything costly: no database, no hash (429).

    A client that presents a device id may be the owner behind a busy shared address; it goes on
    to :func:`sign_in`, which lets a device the account knows past the address's delay.
    """
    if context.device_id is None:
        wait = throttle.client_wait(context.ip)
        if wait:
            raise rate_limited(wait)
    wait = throttle.account_client_wait(account_key(email), context.ip)
    if wait:
        raise rate_limited(wait)


def sign_in(db: DbSession, env: SignInEnv, *, email: str, password: str, context: RequestContext) -> TokenPair:
    """``login``: tokens, or a Problem (401 invalid/challenge, 403 closed, 423 locked, 429)."""
    now = env.clock.now()
    email = normalise_email(email)
    key = account_key(email)
    throttle = env.throttle
    wait = throttle.client_wait(context.ip)
    if wait and not _known_device_may_pass(db, throttle, email, context):
        raise rate_limited(wait)
    wait = throttle.account_client_wait(key, context.ip)
    if wait:
        raise rate_limited(wait)

    account = find_by_email(db, email)
    verification = env.passwords.verify(account.password_hash if account else None, password)
    signals = risk.assess(db, account.id, context) if account else risk.NO_ACCOUNT
    foreign = _foreign_failures(db, env, key, account, now=now)
    unknown_failures = service.unknown_address_failures(db, key) if account is None else 0
    decision = policy.decide_sign_in(
        account,
        password_ok=verification.ok,
        signals=signals,
        foreign_failures=foreign,
        now=now,
        settings=env.settings,
        unknown_address_failures=unknown_failures,
    )
    if account is not None and verification.ok and verification.needs_rehash:
        account.password_hash = env.passwords.hash(password)  # parameters changed since it was set
    notes: dict[str, Any] = {**signals.as_dict(), "decision": decision.action.value}

    if not decision.password_ok:
        throttle.record_failure(context.ip, key, foreign=not signals.known_client)
        if account is not None:
            notes["failure_streak"] = service.count_failed_password(db, account.id)
        else:
            service.count_unknown_address_failure(db, key, now=now)

    problem: Problem
    if decision.action in (Action.allow, Action.step_up) and account is not None:
        passed, outcome = _password_passed(db, env, account, decision, context, signals, now=now)
        if isinstance(passed, TokenPair):
            db.commit()
            return passed
        problem = passed
        notes["reasons"] = [reason.value for reason in decision.reasons]
    elif decision.action is Action.step_up:
        problem, outcome = open_decoy(db, env, key, decision, context, now=now), SignInOutcome.challenged
        notes["reasons"] = [reason.value for reason in decision.reasons]
    elif decision.action is Action.locked:
        assert account is not None
        problem, outcome = account_locked(account), SignInOutcome.locked
    elif decision.action is Action.closed:
        assert account is not None
        problem, outcome = account_closed(account), SignInOutcome.refused
    else:
        problem, outcome = invalid_credentials(), SignInOutcome.bad_credentials
    service.record_attempt(db, account.id if account else None, outcome, context, now=now, signals=notes)
    db.commit()
    raise problem


def _foreign_failures(db: DbSession, env: SignInEnv, key: str, account: Account | None, *, now: datetime) -> int:
    """The account's failures from clients it does not know: Redis's count, or, when Redis does not
    answer, the attempts the database keeps (so a step-up those failures earned still holds)."""
    if account is None:
        return 0
    counted = env.throttle.foreign_failure_count(key)
    if counted is not None:
        return counted
    since = now - timedelta(seconds=env.settings.step_up_window_seconds)
    enough = env.settings.step_up_after_account_failures
    return service.foreign_failures_since_success(db, account.id, since=since, enough=enough)


def _known_device_may_pass(db: DbSession, throttle: Throttle, email: str, context: RequestContext) -> bool:
    """A device the account knows is not delayed for its address's failures (shared addresses,
    OWASP "device cookies"), only by the address's hard cap."""
    if not context.device_id or throttle.client_capped(context.ip):
        return False
    account = find_by_email(db, email)
    return account is not None and risk.assess(db, account.id, context).known_device


def _password_passed(
    db: DbSession,
    env: SignInEnv,
    account: Account,
    decision: Decision,
    context: RequestContext,
    signals: risk.RiskSignals,
    *,
    now: datetime,
) -> tuple[TokenPair | Problem, SignInOutcome]:
    """The password got no refusal: through the door, or (in the consecutive-failure guard, right
    password or wrong) the guard's uniform challenge."""
    if StepUpReason.consecutive_failures in decision.reasons:
        owed = policy.methods_owed(frozenset(), factors.enrolled_of(db, account), risky=True)
        problem = factors.open_step_up(
            db,
            env,
            account,
            owed,
            decision.reasons,
            frozenset({Proof.password}) if decision.password_ok else frozenset(),
            context,
            signals,
            now=now,
            password_ok=decision.password_ok,
        )
        return problem, SignInOutcome.challenged
    proofs = {Proof.password}
    if signals.known_device:
        proofs.add(Proof.remembered_device)
    if decision.reasons and service.has_reset_proof(db, account.id, context, now=now):
        proofs.add(Proof.mailbox)  # a reset from this client proved the mailbox just now
    result = factors.admit(
        db, env, account, context, signals, proofs, reasons=decision.reasons, now=now, outcome=SignInOutcome.success
    )
    if isinstance(result, TokenPair):
        return result, SignInOutcome.success
    return result, SignInOutcome.challenged if result.code == "challenge_required" else SignInOutcome.throttled
