"""The one door every sign-in goes through before it gets tokens.

Each path that can end in a session (a password, a step-up answer, a self-service unlock, a
passkey alone) says what this sign-in proved (:class:`~services.auth.signin.policy.Proof`) and
why it is risky (the step-up reasons the rules found); :func:`admit` reads what the account has
enrolled and either opens the session or opens the step-up still owed, never anything else. The
rule itself is :func:`services.auth.signin.policy.methods_owed` (pure, tested alone); nothing
outside this module calls :func:`services.auth.sessions.service.start_session` for a sign-in.
A refresh continues a session this door opened; it starts none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session as DbSession

from mamori_common.problems import Problem
from mamori_common.quotas import rate_limited, wait_in_words
from services.auth import quotas
from services.auth.accounts.models import Account
from services.auth.audit.service import record
from services.auth.env import AuthEnv
from services.auth.intrusion.sign_ins import notify_new_sign_in
from services.auth.messages.service import file_message
from services.auth.passkeys import service as passkey_service
from services.auth.passkeys import step_up as passkey_step_up
from services.auth.request_context import RequestContext
from services.auth.sessions.service import TokenPair, start_session
from services.auth.signin import devices, policy, risk, service
from services.auth.signin.answers import challenge_required
from services.auth.signin.challenges import create_challenge
from services.auth.signin.models import ChallengePurpose, SignInOutcome
from services.auth.signin.policy import Enrolled, Proof, StepUpReason
from services.auth.signin.throttle import Throttle, account_key, throttle_of
from services.auth.staff import second_factor
from services.auth.totp import service as totp


@dataclass(frozen=True)
class SignInEnv(AuthEnv):
    """:class:`AuthEnv` and the sign-in counters."""

    throttle: Throttle

    @classmethod
    def of(cls, app: FastAPI) -> SignInEnv:
        return cls(**cls.fields_of(app), throttle=throttle_of(app))


def enrolled_of(db: DbSession, account: Account) -> Enrolled:
    """The account's factors; the recovery codes are counted only where they decide a method."""
    has_passkey = passkey_service.count_active(db, account.id) > 0
    codes = has_passkey and not account.totp_enabled and totp.unused_recovery_codes(db, account) > 0
    return Enrolled(
        totp=account.totp_enabled,
        passkey=has_passkey,
        passkey_required=account.passkey_required,
        recovery_codes=codes,
        staff=account.is_staff,
    )


def admit(
    db: DbSession,
    env: SignInEnv,
    account: Account,
    context: RequestContext,
    signals: risk.RiskSignals,
    proofs: Iterable[Proof],
    *,
    reasons: tuple[StepUpReason, ...],
    now: datetime,
    outcome: SignInOutcome,
    notes: dict[str, Any] | None = None,
) -> TokenPair | Problem:
    """Tokens when ``proofs`` meet what the account enrolled, else the step-up still owed (a 401
    ``challenge_required``, or a 429 when only a code mail would do and none may be sent now).

    The caller has checked the standing (locked, frozen, closed) and commits either way.
    """
    shown = frozenset(proofs)
    owed = policy.methods_owed(shown, enrolled_of(db, account), risky=bool(reasons))
    if owed == [policy.ENROL]:
        return second_factor.enrolment_required(db, env, account, context, now=now)
    if not owed:
        if account.is_staff and not shown & policy.STRONG_PROOFS:  # the rule's last line of defence
            raise second_factor.staff_factor_required()
        if Proof.mailbox in shown:  # a reset that proved the mailbox has served
            service.spend_reset_proofs(db, account.id, now=now)
        return _open_session(db, env, account, context, signals, now=now, outcome=outcome, notes=notes)
    return open_step_up(
        db, env, account, owed, reasons or (StepUpReason.second_factor,), shown, context, signals, now=now
    )


def open_step_up(
    db: DbSession,
    env: SignInEnv,
    account: Account,
    methods: list[str],
    reasons: tuple[StepUpReason, ...],
    proofs: frozenset[Proof],
    context: RequestContext,
    signals: risk.RiskSignals,
    *,
    now: datetime,
    password_ok: bool = True,
) -> Problem:
    """Create the challenge (mailing a code when that is a method); its 401, or a 429.

    In the consecutive-failure guard every challenge lists :data:`~policy.GUARD_METHODS` with
    passkey options naming no credential, right password or wrong, whatever the account enrolled,
    exactly as an unknown address's decoy does; a code is mailed only where the account owes one
    and the password was right, and a passkey passing the challenge of a wrong password still
    answers ``invalid_credentials``.
    """
    guard = StepUpReason.consecutive_failures in reasons
    kept: dict[str, Any] = {}
    options: dict[str, Any] | None = None
    if guard:
        kept, options = passkey_step_up.guard_options(env.settings, now=now)
    elif "passkey" in methods:
        found = passkey_step_up.options_for(db, env.settings, account, now=now)
        if found is not None:
            kept, options = found
    mail = "email_code" in methods and password_ok
    if mail:
        known = signals.known_client
        wait = quotas.spend_code_mail(env.quotas, env.settings, "login", account.id, context, known_client=known)
        others = [method for method in methods if method != "email_code"]
        if wait and not guard and not others:
            return code_mails_spent(wait, env.settings.email_code_seconds)
        if wait:  # no more code mails for now; the other methods need none
            methods, mail = others, False
    challenge, code = create_challenge(
        db,
        account.id,
        ChallengePurpose.login,
        list(policy.GUARD_METHODS) if guard else methods,
        hasher=env.code_hasher,
        settings=env.settings,
        now=now,
        context={
            "password_ok": password_ok,
            "reasons": [reason.value for reason in reasons],
            "proofs": sorted(proof.value for proof in proofs),
            "owed": methods,
            "ip": context.ip,
            "country": context.country,
            "device_id": context.device_id,
            "signals": signals.as_dict(),
            **kept,
        },
        with_email_code=mail,
    )
    if code is not None:
        minutes = env.settings.email_code_seconds // 60
        file_message(db, account, "login_code", {"code": code, "minutes": minutes}, encryptor=env.encryptor, now=now)
    return challenge_required(challenge, passkey_options=options)


def code_mails_spent(wait: int, code_seconds: int) -> Problem:
    """Only a mailed code would do, and this account got its share of them for now: say until when."""
    return rate_limited(
        wait,
        f"We mailed sign-in codes to this address several times in the last hour. The codes already mailed "
        f"still work for {code_seconds // 60} minutes each; a new one can be mailed in {wait_in_words(wait)}. A password reset "
        "(requestPasswordReset) also proves the mailbox and lets you sign in from this device.",
    )


def _open_session(
    db: DbSession,
    env: SignInEnv,
    account: Account,
    context: RequestContext,
    signals: risk.RiskSignals,
    *,
    now: datetime,
    outcome: SignInOutcome,
    notes: dict[str, Any] | None = None,
) -> TokenPair:
    """Every check passed: reset the streaks, know the device (a new device token), open the session.

    Every sign-in has its attempt row; one from a new device or country also goes to the audit
    trail the customer reads, with a message (plain sign-ins are in ``listSessions``).
    """
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
    env.throttle.forget_account(account_key(account.email), context.ip)
    tokens = dataclasses.replace(
        start_session(db, account, context, now=now, key=env.signing_key, settings=env.settings),
        device_token=device_token,  # rotated on every sign-in (:mod:`.devices`), returned once
    )
    if signals.new_device or signals.new_country:  # the notice carries a "not me" code for this session
        notify_new_sign_in(
            db,
            env,
            account,
            context,
            new_device=signals.new_device,
            new_country=signals.new_country,
            session_id=tokens.session_id,
            now=now,
        )
    return tokens
