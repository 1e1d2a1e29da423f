"""Orchestration of sign-in, step-up and self-service unlock (story S1).

The rules (who waits, who steps up, who is locked) are in :mod:`.policy`; the counters in
:mod:`.throttle`; the history a decision reads in :mod:`.risk`. This module runs one request:
it reads, decides, writes what happened (attempt row, counters, lock, messages, events, audit)
in one transaction, commits, and only then answers, so a 401 or a 423 leaves its trace.

Answers a guesser could learn from are kept uniform: an unknown address, a wrong password and a
frozen account (whose password was invalidated) all cost one Argon2 verification and answer the
same 401 ``invalid_credentials``; a lock (423) is shown only to the right password. Past the
consecutive-failure guard an unknown address gets a decoy challenge, answered like a real one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session as DbSession

from mamori_common.problems import Problem
from mamori_common.quotas import rate_limited, wait_in_words
from services.auth import quotas
from services.auth.accounts import standing
from services.auth.accounts.models import Account, AccountState
from services.auth.accounts.service import check_new_password, find_by_email, normalise_email, start_lock
from services.auth.accounts.standing import standing_of
from services.auth.audit.service import record
from services.auth.events import ACCOUNT_LOCKED, ACCOUNT_UNLOCKED
from services.auth.messages.service import file_message
from services.auth.passkeys import step_up as passkey_step_up
from services.auth.request_context import RequestContext
from services.auth.sessions.service import TokenPair, revoke_sessions
from services.auth.signin import factors, policy, risk, service
from services.auth.signin.answers import (
    account_closed,
    account_locked,
    challenge_required,
    invalid_credentials,
    passkey_cloned,
    wrong_code,
)
from services.auth.signin.challenges import CodeCheck, check_code, create_challenge
from services.auth.signin.factors import SignInEnv
from services.auth.signin.models import Challenge, ChallengePurpose, SignInOutcome
from services.auth.signin.policy import Action, Decision, Proof, StepUpReason
from services.auth.signin.throttle import Throttle, account_key

__all__ = ["SignInEnv", "account_closed", "account_locked", "invalid_credentials"]


# -- login ---------------------------------------------------------------------------------------


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
        problem, outcome = _open_decoy(db, env, key, decision, context, now=now), SignInOutcome.challenged
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


def _open_decoy(
    db: DbSession, env: SignInEnv, key: str, decision: Decision, context: RequestContext, *, now: datetime
) -> Problem:
    """The challenge an unknown address gets past the consecutive-failure guard: stored and
    answered like the guard challenge of a real account's wrong password (the same methods, passkey
    options naming no credential, no code, five tries); it belongs to no account and nobody can
    pass it."""
    kept, options = passkey_step_up.guard_options(env.settings, now=now)
    challenge, _ = create_challenge(
        db,
        None,
        ChallengePurpose.login,
        list(policy.GUARD_METHODS),
        hasher=env.code_hasher,
        settings=env.settings,
        now=now,
        context={
            "password_ok": False,
            "reasons": [reason.value for reason in decision.reasons],
            "ip": context.ip,
            "account_key": key,
            **kept,
        },
        with_email_code=False,
    )
    return challenge_required(challenge, passkey_options=options)


# -- completeChallenge ---------------------------------------------------------------------------


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
        raise _fail_decoy(db, env, challenge, code or "", context, now=now)
    account = db.get(Account, challenge.account_id)
    assert account is not None  # a foreign key
    password_ok = bool(challenge.context.get("password_ok"))
    current = standing_of(account, (), now=now)  # restrictions never change a sign-in's answer
    locked = current.state is AccountState.locked

    cloned = False
    if method == "passkey":
        result, cloned = _check_passkey(db, env, account, challenge, credential, context, now=now)
    else:
        result = _check_answer(db, env, account, challenge, method, code or "", now=now)
    key = account_key(account.email)
    stored_signals = challenge.context.get("signals", {})
    assert isinstance(stored_signals, dict)  # written by the sign-in that made the challenge
    signals = risk.RiskSignals(
        **{name: bool(value) for name, value in stored_signals.items() if name in risk.RiskSignals.__dataclass_fields__}
    )
    if result is CodeCheck.accepted:
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
    if cloned:
        raise passkey_cloned()
    raise wrong_code(challenge, method)


def _check_passkey(
    db: DbSession,
    env: SignInEnv,
    account: Account,
    challenge: Challenge,
    credential: dict[str, Any] | None,
    context: RequestContext,
    *,
    now: datetime,
) -> tuple[CodeCheck, bool]:
    """Count one try and check a passkey's assertion; (the outcome, whether the passkey looks cloned)."""
    challenge.attempts += 1
    answer = passkey_step_up.check(db, env.settings, account, challenge.context, credential, context, now=now)
    if answer is passkey_step_up.Answer.accepted:
        challenge.consumed_at = now
        return CodeCheck.accepted, False
    wrong = CodeCheck.exhausted if challenge.attempts >= challenge.max_attempts else CodeCheck.wrong
    return wrong, answer is passkey_step_up.Answer.cloned


def _stored_list(kept: dict[str, Any], name: str, default: list[str]) -> list[str]:
    """A list of names the sign-in that made the challenge kept in its row."""
    value = kept.get(name, default)
    return [str(item) for item in value] if isinstance(value, list) else default


def _fail_decoy(
    db: DbSession, env: SignInEnv, challenge: Challenge, code: str, context: RequestContext, *, now: datetime
) -> Problem:
    """A decoy's answer: counted and refused as a real guard challenge's wrong code is."""
    check_code(challenge, code, hasher=env.code_hasher, now=now)  # no code was issued: never accepted
    key = str(challenge.context.get("account_key", ""))
    env.throttle.record_failure(context.ip, key or None, foreign=True)
    service.record_attempt(
        db,
        None,
        SignInOutcome.challenge_failed,
        context,
        now=now,
        signals={"challenge_id": challenge.id, "method": "email_code", "password_ok": False},
    )
    db.commit()
    return wrong_code(challenge)


def _closed_answer(challenge: Challenge, now: datetime) -> Problem | None:
    if challenge.consumed_at is not None:
        return Problem(401, "challenge_used", "This check was already completed. Sign in again.")
    if now >= challenge.expires_at:
        return Problem(401, "challenge_expired", "This check has expired. Sign in again.")
    if challenge.attempts >= challenge.max_attempts:
        return Problem(401, "challenge_exhausted", "Too many wrong codes for this check. Sign in again.")
    return None


def _check_answer(
    db: DbSession, env: SignInEnv, account: Account, challenge: Challenge, method: str, code: str, *, now: datetime
) -> CodeCheck:
    """Count one try and check the answer by its method; the caller commits either way."""
    if method == "email_code":
        return check_code(challenge, code, hasher=env.code_hasher, now=now)
    from services.auth.totp import service as totp  # the TOTP domain; imported when first needed

    challenge.attempts += 1
    if method == "totp":
        passed = totp.check_totp(db, account, code.strip(), encryptor=env.encryptor, now=now)
    else:
        passed = totp.use_recovery_code(db, account, code.strip(), now=now)
    if passed:
        challenge.consumed_at = now
        return CodeCheck.accepted
    return CodeCheck.exhausted if challenge.attempts >= challenge.max_attempts else CodeCheck.wrong


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


# -- self-service unlock -------------------------------------------------------------------------


def send_unlock_code(db: DbSession, env: SignInEnv, *, email: str, context: RequestContext) -> None:
    """``sendUnlockCode``: mail a code to a locked account's owner; silent for anything else.

    The code mails are counted under the address's digest, for every address alike (registered,
    locked or not), so when none will be sent the answer says so, until when, for every address
    alike: a 429 never tells a locked account from an unknown address.
    """
    now = env.clock.now()
    wait = env.quotas.spend(quotas.unlock_requests(env.settings), context.ip)
    if wait:
        raise rate_limited(wait)
    email = normalise_email(email)
    account = find_by_email(db, email)
    known_client = risk.assess(db, account.id, context).known_client if account else False
    wait = quotas.spend_code_mail(
        env.quotas, env.settings, "unlock", account_key(email), context, known_client=known_client
    )
    if wait:
        raise unlock_codes_spent(wait, env.settings.email_code_seconds)
    if account is None or standing_of(account, (), now=now).state is not AccountState.locked:
        return
    _, code = create_challenge(
        db,
        account.id,
        ChallengePurpose.unlock,
        ["email_code"],
        hasher=env.code_hasher,
        settings=env.settings,
        now=now,
        context={"ip": context.ip, "country": context.country, "device_id": context.device_id},
    )
    assert code is not None
    file_message(
        db,
        account,
        "unlock_code",
        {"code": code, "minutes": env.settings.email_code_seconds // 60},
        encryptor=env.encryptor,
        now=now,
    )
    db.commit()


def unlock_codes_spent(wait: int, code_seconds: int) -> Problem:
    """No new unlock code will be mailed for a while: say so, what still works, and until when.
    ``reason: no_new_code`` tells this from a plain throttle of the client (same ``rate_limited``),
    so a page does not say "too many attempts from this connection"; ``code_minutes`` is how long a
    code already mailed still works."""
    return rate_limited(
        wait,
        f"No new code will be mailed for now: codes were asked for this address several times in the last hour. "
        f"A code already mailed still works for {code_seconds // 60} minutes after it was sent; a new one can be "
        f"asked in {wait_in_words(wait)}. A locked account also opens by itself when its lock ends.",
        reason="no_new_code",
        code_minutes=code_seconds // 60,
    )


def request_unlock(
    db: DbSession, env: SignInEnv, *, email: str, code: str, new_password: str, context: RequestContext
) -> tuple[TokenPair, int]:
    """``requestUnlock``: a mailed unlock code and a new password open the account at once.

    Any unlock code mailed in the last minutes works (so a flood of requests cannot void the
    owner's). The new password ends every session; this client gets a fresh one through the door
    (:func:`factors.admit`): an account with TOTP or a passkey is unlocked, and this client gets
    the step-up its factors owe (401 ``challenge_required``), as a password sign-in would.
    """
    now = env.clock.now()
    throttle = env.throttle
    wait = throttle.client_wait(context.ip) or env.quotas.spend(quotas.unlock_requests(env.settings), context.ip)
    if wait:
        raise rate_limited(wait)
    email = normalise_email(email)
    key = account_key(email)
    account = find_by_email(db, email)
    challenges = service.live_unlock_challenges(db, account.id, now=now) if account else []
    entered = code.strip()
    match = next((item for item in challenges if env.code_hasher.matches(item.id, entered, item.code_hash)), None)
    if account is None or match is None:
        for item in challenges:
            item.attempts += 1
        throttle.record_failure(context.ip, key, foreign=True)
        db.commit()
        raise Problem(401, "invalid_code", "This code is wrong or no longer valid. Ask for a new one.")
    check_new_password(new_password, email=account.email, name=account.name)  # 422; the code stays usable

    match.consumed_at = now
    match.attempts += 1
    current = standing_of(account, (), now=now)
    if current.state in (AccountState.frozen, AccountState.closed):  # frozen or closed since the code was mailed
        db.commit()
        raise Problem(401, "invalid_code", "This code is wrong or no longer valid. Ask for a new one.")
    account.password_hash = env.passwords.hash(new_password)
    account.password_changed_at = now
    # The lock ends (in force, or run out meanwhile): either way verification closes its case.
    case_id = standing.unlock(account)
    revoked = revoke_sessions(db, account.id, now=now, reason="unlocked")
    if case_id:
        env.outbox.publish(db, ACCOUNT_UNLOCKED, {"case_id": case_id, "account_id": account.id, "how": "self_service"})
    record(
        db,
        account.id,
        service.ACCOUNT_UNLOCKED,
        context,
        at=now,
        reason="Unlocked with a mailed code and a new password.",
        details={"case_id": case_id, "revoked_sessions": len(revoked)},
    )
    signals = risk.assess(db, account.id, context)
    # The mailbox and the new password are all this client proved: the door asks for the enrolled
    # factors (TOTP, passkey) in the normal step-up, after failed step-ups, from every device.
    reasons: tuple[StepUpReason, ...] = (StepUpReason.after_failed_step_ups,)
    if account.passkey_required:
        reasons += (StepUpReason.passkey_required,)
    passed = factors.admit(
        db,
        env,
        account,
        context,
        signals,
        {Proof.mailbox, Proof.password},
        reasons=reasons,
        now=now,
        outcome=SignInOutcome.challenge_passed,
        notes={"via": "unlock"},
    )
    if isinstance(passed, Problem):
        service.record_attempt(
            db,
            account.id,
            SignInOutcome.challenged,
            context,
            now=now,
            signals={"via": "unlock", "reasons": [reason.value for reason in reasons]},
        )
        db.commit()
        raise passed
    db.commit()
    return passed, len(revoked)
