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

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session as DbSession

from mamori_common.contract import case_number
from mamori_common.problems import Problem
from mamori_common.quotas import rate_limited
from services.auth import quotas
from services.auth.accounts import standing
from services.auth.accounts.models import Account, AccountState
from services.auth.accounts.service import check_new_password, find_by_email, normalise_email, start_lock
from services.auth.accounts.standing import standing_of
from services.auth.audit.service import record
from services.auth.env import AuthEnv
from services.auth.events import ACCOUNT_LOCKED, ACCOUNT_UNLOCKED
from services.auth.messages.service import file_message
from services.auth.request_context import RequestContext
from services.auth.sessions.service import TokenPair, revoke_sessions, start_session
from services.auth.signin import devices, policy, risk, service
from services.auth.signin.challenges import CodeCheck, check_code, create_challenge
from services.auth.signin.models import Challenge, ChallengePurpose, SignInOutcome
from services.auth.signin.policy import Action, Decision
from services.auth.signin.throttle import Throttle, account_key, throttle_of
from services.auth.staff import second_factor


@dataclass(frozen=True)
class SignInEnv(AuthEnv):
    """:class:`AuthEnv` and the sign-in counters."""

    throttle: Throttle

    @classmethod
    def of(cls, app: FastAPI) -> SignInEnv:
        return cls(**cls.fields_of(app), throttle=throttle_of(app))


# -- answers -------------------------------------------------------------------------------------


def invalid_credentials() -> Problem:
    return Problem(401, "invalid_credentials", "The e-mail address or the password is wrong.")


def account_locked(account: Account) -> Problem:
    until = account.locked_until.isoformat() if account.locked_until else None
    case_id = account.lock_case_id
    number = case_number(case_id) if case_id else None
    return Problem(
        423,
        "account_locked",
        f"This account is locked until {until} after repeated failed checks (case {number}). You can unlock it "
        "now: ask for a code (sendUnlockCode), then send the code with a new password (requestUnlock).",
        case_id=case_id,
        case_number=number,
        locked_until=until,
        unlock={
            "operation": "requestUnlock",
            "path": "/api/auth/unlock",
            "needs": ["the code we mail to your address", "a new password"],
            "send_code_operation": "sendUnlockCode",
            "send_code_path": "/api/auth/unlock/code",
            "or_wait_until": until,
        },
    )


def account_closed(account: Account) -> Problem:
    return Problem(403, "account_closed", "This account is closed.", case_id=account.state_case_id)


def challenge_required(
    challenge: Challenge, reasons: tuple[policy.StepUpReason, ...], *, passkey_options: dict[str, Any] | None = None
) -> Problem:
    mailed = "email_code" in challenge.methods
    how = (
        "Enter the 6-digit code we sent to your e-mail address."
        if mailed
        else "Enter the code from your authenticator app, or one of your recovery codes."
    )
    if "passkey" in challenge.methods:
        if "totp" in challenge.methods or mailed:
            how = f"Use your passkey, or {how[0].lower()}{how[1:]}"
        elif "recovery_code" in challenge.methods:  # "passkey required": nothing else
            how = "Use your passkey, or enter one of your recovery codes."
        else:
            how = "Use your passkey."
    extra: dict[str, Any] = {"passkey_options": passkey_options} if passkey_options is not None else {}
    return Problem(
        401,
        "challenge_required",
        f"One more check to sign in: {how}",
        challenge_id=challenge.id,
        methods=list(challenge.methods),
        expires_at=challenge.expires_at.isoformat(),
        operation="completeChallenge",
        **extra,
    )


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
    foreign = throttle.foreign_failure_count(key) if account else 0
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
    if decision.action is Action.allow:
        assert account is not None
        tokens = finish_sign_in(db, env, account, context, signals, now=now, outcome=SignInOutcome.success, key=key)
        db.commit()
        return tokens
    if decision.action is Action.step_up and account is None:
        problem, outcome = _open_decoy(db, env, key, decision, context, now=now), SignInOutcome.challenged
        notes["reasons"] = [reason.value for reason in decision.reasons]
    elif decision.action is Action.step_up:
        assert account is not None
        problem = _open_step_up(db, env, account, decision, context, signals, now=now)
        outcome = SignInOutcome.throttled if problem.code == "rate_limited" else SignInOutcome.challenged
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


def _known_device_may_pass(db: DbSession, throttle: Throttle, email: str, context: RequestContext) -> bool:
    """A device the account knows is not delayed for its address's failures (shared addresses,
    OWASP "device cookies"), only by the address's hard cap."""
    if not context.device_id or throttle.client_capped(context.ip):
        return False
    account = find_by_email(db, email)
    return account is not None and risk.assess(db, account.id, context).known_device


def _open_step_up(
    db: DbSession,
    env: SignInEnv,
    account: Account,
    decision: Decision,
    context: RequestContext,
    signals: risk.RiskSignals,
    *,
    now: datetime,
) -> Problem:
    """Create the challenge (mailing a code when that is the method); its 401, or a 429.

    An account with a passkey gets passkey request options in the answer whether or not the
    password was right (in the consecutive-failure guard the two answers must look alike); a
    passkey passing the challenge of a wrong password still answers ``invalid_credentials``.
    """
    from services.auth.passkeys import step_up as passkey_step_up  # the passkeys domain

    passkey = passkey_step_up.options_for(db, env.settings, account, now=now)
    methods = policy.step_up_methods(account, has_passkey=passkey is not None)
    if not methods and decision.password_ok:  # a staff account with no second factor: enrolment only
        return second_factor.enrolment_required(db, env, account, context, now=now)
    methods = methods or ["totp"]  # (a wrong password's guard challenge: it can never be passed)
    mail = "email_code" in methods and decision.password_ok
    if mail:
        wait = quotas.spend_code_mail(
            env.quotas, env.settings, "login", account.id, context, known_client=signals.known_client
        )
        if wait and passkey is None:
            return rate_limited(wait)
        if wait:  # no more code mails for now, but the passkey needs none
            methods, mail = [method for method in methods if method != "email_code"], False
    challenge, code = create_challenge(
        db,
        account.id,
        ChallengePurpose.login,
        methods,
        hasher=env.code_hasher,
        settings=env.settings,
        now=now,
        context={
            "password_ok": decision.password_ok,
            "reasons": [reason.value for reason in decision.reasons],
            "ip": context.ip,
            "country": context.country,
            "device_id": context.device_id,
            "signals": signals.as_dict(),
            **(passkey[0] if passkey else {}),
        },
        with_email_code=mail,
    )
    if code is not None:
        minutes = env.settings.email_code_seconds // 60
        file_message(db, account, "login_code", {"code": code, "minutes": minutes}, encryptor=env.encryptor, now=now)
    return challenge_required(challenge, decision.reasons, passkey_options=passkey[1] if passkey else None)


def _open_decoy(
    db: DbSession, env: SignInEnv, key: str, decision: Decision, context: RequestContext, *, now: datetime
) -> Problem:
    """The challenge an unknown address gets past the consecutive-failure guard: stored like the
    guard challenge of a real account's wrong password (no code, five tries), so answering it
    goes the same way; it belongs to no account and nobody can pass it."""
    challenge, _ = create_challenge(
        db,
        None,
        ChallengePurpose.login,
        ["email_code"],
        hasher=env.code_hasher,
        settings=env.settings,
        now=now,
        context={
            "password_ok": False,
            "reasons": [reason.value for reason in decision.reasons],
            "ip": context.ip,
            "account_key": key,
        },
        with_email_code=False,
    )
    return challenge_required(challenge, decision.reasons)


def finish_sign_in(
    db: DbSession,
    env: SignInEnv,
    account: Account,
    context: RequestContext,
    signals: risk.RiskSignals,
    *,
    now: datetime,
    outcome: SignInOutcome,
    key: str,
    notes: dict[str, Any] | None = None,
) -> TokenPair:
    """Every check passed: reset the streaks, know the device, and open the session.

    The device gets a new device token (rotated on every sign-in, :mod:`.devices`), returned
    with the tokens. Every sign-in has its attempt row; one from a new device or country also
    goes to the audit trail the customer reads, with a message (plain sign-ins are in ``listSessions``).
    """
    second_factor.ensure_staff_factor(account, (notes or {}).get("method"))
    service.clear_failures(account, now=now)
    context, device_token = devices.rotate(db, devices.signer_of(env.encryptor), context, now=now)
    service.remember_device(db, account.id, context, now=now)
    service.record_attempt(db, account.id, outcome, context, now=now, signals={**signals.as_dict(), **(notes or {})})
    if signals.new_device or signals.new_country:  # the customer's trail shows where they were new
        record(
            db,
            account.id,
            service.SIGNED_IN,
            context,
            at=now,
            details={"new_device": signals.new_device, "new_country": signals.new_country},
        )
        file_message(
            db,
            account,
            "new_sign_in",
            {"at": now, "country": context.country or "-"},
            encryptor=env.encryptor,
            now=now,
        )
    env.throttle.forget_account(key, context.ip)
    pair = start_session(db, account, context, now=now, key=env.signing_key, settings=env.settings)
    return dataclasses.replace(pair, device_token=device_token)


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
        tokens = finish_sign_in(
            db,
            env,
            account,
            context,
            signals,
            now=now,
            outcome=SignInOutcome.challenge_passed,
            key=key,
            notes={"challenge_id": challenge.id, "method": method},
        )
        db.commit()
        return tokens

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
        from services.auth.passkeys.flows import passkey_cloned

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
    from services.auth.passkeys import step_up as passkey_step_up  # the passkeys domain

    challenge.attempts += 1
    answer = passkey_step_up.check(db, env.settings, account, challenge.context, credential, context, now=now)
    if answer is passkey_step_up.Answer.accepted:
        challenge.consumed_at = now
        return CodeCheck.accepted, False
    wrong = CodeCheck.exhausted if challenge.attempts >= challenge.max_attempts else CodeCheck.wrong
    return wrong, answer is passkey_step_up.Answer.cloned


def wrong_code(challenge: Challenge, method: str = "email_code") -> Problem:
    attempts_left = max(0, challenge.max_attempts - challenge.attempts)
    wrong = "This passkey did not pass the check." if method == "passkey" else "This code is wrong."
    detail = wrong if attempts_left else f"{wrong[:-1]}, and that was the last try: sign in again."
    return Problem(401, "invalid_code", detail, attempts_left=attempts_left)


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
    """``sendUnlockCode``: mail a code to a locked account's owner; silent for anything else."""
    now = env.clock.now()
    wait = env.quotas.spend(quotas.unlock_requests(env.settings), context.ip)
    if wait:
        raise rate_limited(wait)
    account = find_by_email(db, email)
    if account is None or standing_of(account, (), now=now).state is not AccountState.locked:
        return
    known_client = risk.assess(db, account.id, context).known_client
    if quotas.spend_code_mail(env.quotas, env.settings, "unlock", account.id, context, known_client=known_client):
        return  # the codes mailed within the hour still work: nothing is lost by not sending more
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


def request_unlock(
    db: DbSession, env: SignInEnv, *, email: str, code: str, new_password: str, context: RequestContext
) -> tuple[TokenPair, int]:
    """``requestUnlock``: a mailed unlock code and a new password open the account at once.

    Any unlock code mailed in the last minutes works (so a flood of requests cannot void the
    owner's). The new password ends every session; this client gets a fresh one, except under
    "passkey required": then the account is unlocked and this client gets the step-up (401
    ``challenge_required``, passkey or recovery code), as a password sign-in would.
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
    if account.passkey_required or account.is_staff:
        # The mailbox and a new password are not the passkey (nor a staff member's second factor):
        # the account is open again, but this client signs in only through the step-up.
        reason = policy.StepUpReason.passkey_required if account.passkey_required else policy.StepUpReason.staff
        decision = Decision(Action.step_up, (reason,))
        problem = _open_step_up(db, env, account, decision, context, signals, now=now)
        service.record_attempt(
            db,
            account.id,
            SignInOutcome.challenged,
            context,
            now=now,
            signals={"via": "unlock", "reasons": [reason.value]},
        )
        db.commit()
        raise problem
    tokens = finish_sign_in(
        db,
        env,
        account,
        context,
        signals,
        now=now,
        outcome=SignInOutcome.challenge_passed,
        key=key,
        notes={"via": "unlock"},
    )
    db.commit()
    return tokens, len(revoked)
