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
from services.auth.accounts.models import Account
from services.auth.audit.service import record
from services.auth.env import AuthEnv
from services.auth.intrusion.sign_ins import notify_new_sign_in
from services.auth.request_context import RequestContext
from services.auth.sessions.service import TokenPair, start_session
from services.auth.signin import devices, methods, policy, risk, service
from services.auth.signin.answers import challenge_required
from services.auth.signin.challenges import create_challenge
from services.auth.signin.models import Challenge, ChallengePurpose, SignInOutcome
from services.auth.signin.policy import Enrolled, Proof, StepUpReason
from services.auth.signin.throttle import Throttle, account_key, throttle_of
from services.auth.staff import second_factor


@dataclass(frozen=True)
class SignInEnv(AuthEnv):
    """:class:`AuthEnv` and the sign-in counters."""

    throttle: Throttle

    @classmethod
    def of(cls, app: FastAPI) -> SignInEnv:
        return cls(**cls.fields_of(app), throttle=throttle_of(app))


def enrolled_of(db: DbSession, account: Account) -> Enrolled:
    """The account's factors, each asked of its method; the recovery codes are counted only where
    they decide a method (a passkey and no TOTP)."""

    def has(name: str) -> bool:
        return methods.named(name).enrolled(db, account)

    has_passkey, has_totp = has("passkey"), has("totp")
    return Enrolled(
        totp=has_totp,
        passkey=has_passkey,
        passkey_required=account.passkey_required,
        recovery_codes=has_passkey and not has_totp and has("recovery_code"),
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
    owed: list[str],
    reasons: tuple[StepUpReason, ...],
    proofs: frozenset[Proof],
    context: RequestContext,
    signals: risk.RiskSignals,
    *,
    now: datetime,
    password_ok: bool = True,
) -> Problem:
    """Create the challenge with what each method offers for it (a mailed code, passkey options);
    its 401, or the 429 of the only method owed when it cannot be offered now.

    In the consecutive-failure guard every challenge lists :data:`~policy.GUARD_METHODS` with
    passkey options naming no credential, right password or wrong, whatever the account enrolled,
    exactly as an unknown address's decoy does; a code is mailed only where the account owes one
    and the password was right, and a passkey passing the challenge of a wrong password still
    answers ``invalid_credentials``.
    """
    guard = StepUpReason.consecutive_failures in reasons
    listed = list(policy.GUARD_METHODS) if guard else owed
    known = signals.known_client

    def ask(name: str) -> methods.Ask:
        return methods.Ask(
            account, context, now, owed=name in owed, guard=guard, password_ok=password_ok, known_client=known
        )

    offers = {name: methods.named(name).offer(db, env, ask(name)) for name in listed}
    refused = [offer.refusal for offer in offers.values() if offer.refusal is not None]
    # A method that cannot be offered now (no code mail may go out) is owed no more this time;
    # what the guard owes a staff account with no factor (ENROL) is no method and stays.
    owed = [name for name in owed if name not in offers or offers[name].refusal is None]
    if refused and not guard and not owed:
        return refused[0]
    challenge, _ = create_challenge(
        db,
        account.id,
        ChallengePurpose.login,
        list(policy.GUARD_METHODS) if guard else owed,
        hasher=env.code_hasher,
        settings=env.settings,
        now=now,
        context={
            "password_ok": password_ok,
            "reasons": [reason.value for reason in reasons],
            "proofs": sorted(proof.value for proof in proofs),
            "owed": owed,
            "ip": context.ip,
            "country": context.country,
            "device_id": context.device_id,
            "signals": signals.as_dict(),
            **kept_of(offers.values()),
        },
        with_email_code=False,
    )
    return delivered(challenge, offers.values())


def kept_of(offers: Iterable[methods.Offer]) -> dict[str, Any]:
    """What the offers keep in their challenge row, together."""
    return {name: value for offer in offers if offer.refusal is None for name, value in offer.kept.items()}


def delivered(challenge: Challenge, offers: Iterable[methods.Offer]) -> Problem:
    """Run what the offers do once their challenge exists (mail its code); its 401."""
    shown: dict[str, Any] = {}
    for offer in offers:
        if offer.refusal is None:
            shown |= offer.shown
            if offer.deliver is not None:
                offer.deliver(challenge)
    return challenge_required(challenge, shown=shown)


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
