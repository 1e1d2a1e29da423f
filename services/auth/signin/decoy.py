"""The decoy an address nobody registered gets past the consecutive-failure guard.

Otherwise the 101st guess would tell a registered address (a challenge) from an unknown one (a
401). The decoy is stored and answered like the guard challenge of a real account's wrong
password: the same methods, each offering what it offers there (passkey options naming no
credential, no mailed code), five tries. It belongs to no account, so nobody can pass it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session as DbSession

from mamori_common.problems import Problem
from services.auth.request_context import RequestContext
from services.auth.signin import methods, policy, service
from services.auth.signin.answers import wrong_code
from services.auth.signin.challenges import check_code, create_challenge
from services.auth.signin.factors import SignInEnv, delivered, kept_of
from services.auth.signin.models import Challenge, ChallengePurpose, SignInOutcome
from services.auth.signin.policy import Decision


def open_decoy(
    db: DbSession, env: SignInEnv, key: str, decision: Decision, context: RequestContext, *, now: datetime
) -> Problem:
    """The decoy's 401 ``challenge_required``, from the same offers a guard challenge gets."""
    ask = methods.Ask(None, context, now, owed=False, guard=True, password_ok=False)
    offers = [methods.named(name).offer(db, env, ask) for name in policy.GUARD_METHODS]
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
            **kept_of(offers),
        },
        with_email_code=False,
    )
    return delivered(challenge, offers)


def fail_decoy(
    db: DbSession,
    env: SignInEnv,
    challenge: Challenge,
    method: str,
    code: str,
    context: RequestContext,
    *,
    now: datetime,
) -> Problem:
    """A decoy's answer: counted and refused as a real guard challenge's wrong answer by that method is
    (a passkey's in a passkey's words, so the reply cannot tell the address is nobody's)."""
    check_code(challenge, code, hasher=env.code_hasher, now=now)  # no code was issued: never accepted
    key = str(challenge.context.get("account_key", ""))
    env.throttle.record_failure(context.ip, key or None, foreign=True)
    service.record_attempt(
        db,
        None,
        SignInOutcome.challenge_failed,
        context,
        now=now,
        signals={"challenge_id": challenge.id, "method": method, "password_ok": False},
    )
    db.commit()
    return wrong_code(challenge, method)
