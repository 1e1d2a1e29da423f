"""``completeChallenge``: the answer to a sign-in step-up, and the lock wrong answers earn.

The answer is checked by the method it names (:mod:`.methods`: a mailed code, TOTP, a recovery
code, a passkey), whichever module registered it; this flow only counts and decides. Locks come
only from here (:mod:`.policy`): wrong answers to the step-ups of a right password, never bare
password guesses, and the owner can always unlock by self-service (:mod:`.unlock`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session as DbSession

from mamori_common.problems import Problem
from mamori_common.quotas import rate_limited
from services.auth.accounts.models import Account, AccountState
from services.auth.accounts.service import start_lock
from services.auth.accounts.standing import standing_of
from services.auth.audit.service import record
from services.auth.events import ACCOUNT_LOCKED
from services.auth.messages.service import file_message
from services.auth.request_context import RequestContext
from services.auth.sessions.service import TokenPair
from services.auth.signin import factors, methods, policy, risk, service
from services.auth.signin.answers import account_locked, invalid_credentials, wrong_code
from services.auth.signin.challenges import CodeCheck
from services.auth.signin.decoy import fail_decoy
from services.auth.signin.factors import SignInEnv
from services.auth.signin.models import Challenge, ChallengePurpose, SignInOutcome
from services.auth.signin.policy import Proof, StepUpReason
from services.auth.signin.throttle import account_key


def complete_challenge(
    db: DbSession,
    env: SignInEnv,
    *,
    challenge_id: str,
    method: str,
    code: str | None,
    context: RequestContext,
    credential: dict[str, Any] | None = None,
) -> TokenPair:
    """``completeChallenge``: the step-up answer (a code, or a passkey's ``credential``). Wrong
    answers count toward the lock; a cloned passkey's answer counts as wrong and says so."""
    now = env.clock.now()
    wait = env.throttle.client_wait(context.ip)
    if wait:
        raise rate_limited(wait)
    challenge = db.get(Challenge, challenge_id)
    if challenge is None or challenge.purpose is not ChallengePurpose.login:
        raise Problem(401, "challenge_expired", "This check is no longer valid. Sign in again.")
    if method not in challenge.methods:
        raise Problem(
            422, "method_not_offered", f"This check takes: {', '.join(challenge.methods)}.", methods=challenge.methods
        )
    closed = _closed_answer(challenge, now)
    if closed is not None:
        raise closed
    if challenge.account_id is None:
        raise fail_decoy(db, env, challenge, method, code or "", context, now=now)
    account = db.get(Account, challenge.account_id)
    assert account is not None  # a foreign key
    password_ok = bool(challenge.context.get("password_ok"))
    current = standing_of(account, (), now=now)  # restrictions never change a sign-in's answer
    locked = current.state is AccountState.locked

    verdict = methods.named(method).verify(
        db, env, account, challenge, code=code or "", credential=credential, context=context, now=now
    )
    key = account_key(account.email)
    stored_signals = challenge.context.get("signals", {})
    assert isinstance(stored_signals, dict)  # written by the sign-in that made the challenge
    signals = risk.RiskSignals(
        **{name: bool(value) for name, value in stored_signals.items() if name in risk.RiskSignals.__dataclass_fields__}
    )
    if verdict.check is CodeCheck.accepted:
        if not password_ok or current.state in (AccountState.closed, AccountState.frozen):
            # The consecutive-failure guard asked this of a wrong password: the code proves the
            # mailbox or the phone, but the password still was wrong.
            service.record_attempt(
                db,
                account.id,
                SignInOutcome.bad_credentials,
                context,
                now=now,
                signals={"guard_challenge": challenge.id},
            )
            db.commit()
            raise invalid_credentials()
        if locked:  # shown only now: before the code, a 423 would have told the password was right
            service.record_attempt(
                db, account.id, SignInOutcome.locked, context, now=now, signals={"challenge_id": challenge.id}
            )
            db.commit()
            raise account_locked(account)
        proofs = {Proof(value) for value in _stored_list(challenge.context, "proofs", ["password"])}
        reasons = tuple(StepUpReason(value) for value in _stored_list(challenge.context, "reasons", []))
        passed = factors.admit(
            db,
            env,
            account,
            context,
            signals,
            proofs | {policy.METHOD_PROOFS[method]},
            reasons=reasons,
            now=now,
            outcome=SignInOutcome.challenge_passed,
            notes={"challenge_id": challenge.id, "method": method},
        )
        if isinstance(passed, Problem):  # this answer was not the factor the account still owes
            service.record_attempt(
                db,
                account.id,
                SignInOutcome.challenged,
                context,
                now=now,
                signals={"challenge_id": challenge.id, "method": method, "reasons": [r.value for r in reasons]},
            )
        db.commit()
        if isinstance(passed, Problem):
            raise passed
        return passed

    env.throttle.record_failure(context.ip, key, foreign=True)
    service.record_attempt(
        db,
        account.id,
        SignInOutcome.challenge_failed,
        context,
        now=now,
        signals={"challenge_id": challenge.id, "method": method, "password_ok": password_ok},
    )
    if password_ok and not locked:
        failed = service.count_failed_step_up(db, account.id)
        if policy.should_lock(failed, env.settings):
            lock(db, env, account, context, now=now, reason="Too many wrong sign-in codes.")
            db.commit()
            raise account_locked(account)
    db.commit()
    raise verdict.problem or wrong_code(challenge, method)


def _stored_list(kept: dict[str, Any], name: str, default: list[str]) -> list[str]:
    """A list of names the sign-in that made the challenge kept in its row."""
    value = kept.get(name, default)
    return [str(item) for item in value] if isinstance(value, list) else default


def _closed_answer(challenge: Challenge, now: datetime) -> Problem | None:
    if challenge.consumed_at is not None:
        return Problem(401, "challenge_used", "This check was already completed. Sign in again.")
    if now >= challenge.expires_at:
        return Problem(401, "challenge_expired", "This check has expired. Sign in again.")
    if challenge.attempts >= challenge.max_attempts:
        return Problem(401, "challenge_exhausted", "Too many wrong codes for this check. Sign in again.")
    return None


def lock(
    db: DbSession, env: SignInEnv, account: Account, context: RequestContext, *, now: datetime, reason: str
) -> str | None:
    """Lock for a while, open a lockout case (event to verification), tell the owner, audit it.

    Returns the case id, or None when a lock already held (a concurrent failure opened it).
    """
    until = now + policy.lock_duration(account, env.settings)
    case_id = start_lock(db, account, now=now, until=until, reason=reason)
    if case_id is None:
        return None
    env.outbox.publish(
        db,
        ACCOUNT_LOCKED,
        {
            "case_id": case_id,
            "account_id": account.id,
            "reason": reason,
            "locked_until": until.isoformat(),
            "kind": "lockout",
        },
    )
    file_message(db, account, "account_locked", {"until": until, "case_id": case_id}, encryptor=env.encryptor, now=now)
    record(
        db,
        account.id,
        service.ACCOUNT_LOCKED,
        context,
        at=now,
        actor="system",
        reason=reason,
        details={"case_id": case_id, "locked_until": until.isoformat()},
    )
    return case_id
