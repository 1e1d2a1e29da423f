"""Routes: ``login``, ``completeChallenge``, ``sendUnlockCode``, ``requestUnlock``.

Nobody is signed in when calling these: each is open to anyone, and each is throttled per client
address (429 with Retry-After) before it does any costly work.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request, status

from mamori_common.db import SessionDep
from mamori_common.problems import PROBLEM_MEDIA_TYPE
from services.auth.deps import SignInContextDep, client_ip, request_context
from services.auth.sessions.schemas import TokenResponse
from services.auth.sessions.service import TokenPair
from services.auth.signin import devices, password, step_up, unlock
from services.auth.signin.factors import SignInEnv
from services.auth.signin.schemas import (
    Accepted,
    CodeAnswer,
    CompleteChallengeRequest,
    LoginRequest,
    PasskeyAnswer,
    SendUnlockCodeRequest,
    Unlocked,
    UnlockRequest,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _env(request: Request) -> SignInEnv:
    return SignInEnv.of(request.app)


SignInEnvDep = Annotated[SignInEnv, Depends(_env)]


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {}}}


@router.post(
    "/login",
    operation_id="login",
    response_model=TokenResponse,
    summary="Sign in with e-mail and password",
    description=(
        "200 with tokens; 401 `invalid_credentials` (the same for an unknown address, in the same time); "
        "401 `challenge_required` with `challenge_id` and `methods` (answer with completeChallenge); "
        "423 `account_locked` with `case_id`, `locked_until` and `unlock` (how to unlock now); "
        "403 `account_closed`; 403 `second_factor_enrolment_required` with an `enrolment_token` (a staff "
        "account with no second factor: it may only enrol one); 429 `rate_limited` with Retry-After. A sign-in "
        "answers `device_token`: send it back as `X-Device-Token` next time."
    ),
    responses={
        401: _problem("invalid_credentials, or challenge_required with challenge_id and methods"),
        403: _problem("account_closed, or second_factor_enrolment_required with enrolment_token"),
        423: _problem("account_locked with case_id, locked_until and unlock"),
        429: _problem("rate_limited with Retry-After and retry_after"),
    },
)
async def login(body: LoginRequest, request: Request) -> TokenResponse:
    """Async on purpose: a throttled client is turned away on the event loop, before any worker
    thread, database query or password hash, so a flood of guesses costs almost nothing. The
    rest (database and the Argon2 verification) runs in one worker thread."""
    app = request.app
    context = request_context(request, client_ip(request))
    if body.device_token:
        context = dataclasses.replace(context, device_token=body.device_token)
    signer = devices.signer_of(app.state.encryptor)
    # Signature only, for the turn-away: a device the account may know goes on to the database check.
    context = devices.claimed(signer, context)
    env = SignInEnv.of(app)
    if env.throttle.shared:  # a network round trip: not on the event loop
        await anyio.to_thread.run_sync(password.turn_away, env.throttle, context, body.email)
    else:
        password.turn_away(env.throttle, context, body.email)

    def in_thread() -> TokenPair:
        with app.state.db.session() as db:
            known = devices.recognised(db, signer, context)
            return password.sign_in(db, env, email=body.email, password=body.password, context=known)

    return TokenResponse.from_pair(await anyio.to_thread.run_sync(in_thread))


@router.post(
    "/challenges/complete",
    operation_id="completeChallenge",
    response_model=TokenResponse,
    summary="Answer a sign-in step-up with a mailed code, a TOTP code, a recovery code or a passkey",
    responses={
        401: _problem(
            "invalid_code with attempts_left (also a wrong passkey assertion); passkey_cloned; challenge_expired, "
            "challenge_used, challenge_exhausted"
        ),
        422: _problem("method_not_offered"),
        423: _problem("account_locked: too many wrong answers"),
        429: _problem("rate_limited with Retry-After"),
    },
)
def complete_challenge(
    body: CompleteChallengeRequest, db: SessionDep, env: SignInEnvDep, context: SignInContextDep
) -> TokenResponse:
    pair = step_up.complete_challenge(
        db,
        env,
        challenge_id=body.challenge_id,
        method=body.method,
        code=body.code if isinstance(body, CodeAnswer) else None,
        credential=body.credential if isinstance(body, PasskeyAnswer) else None,
        context=context,
    )
    return TokenResponse.from_pair(pair)


@router.post(
    "/unlock/code",
    operation_id="sendUnlockCode",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="Mail an unlock code to the owner of a locked account",
    description=(
        "202 whether or not the address has a locked account (nothing to learn here); 429 `rate_limited` "
        "with Retry-After: either this client made too many requests, or (`reason: no_new_code`, with "
        "`code_minutes`) no new code will be mailed to this address for now, for any address alike, while a "
        "code already mailed still works for `code_minutes` after it was sent."
    ),
    responses={
        429: _problem(
            "rate_limited with Retry-After: too many requests from this client, or reason no_new_code and "
            "code_minutes: no new code for this address for now"
        )
    },
)
def send_unlock_code(
    body: SendUnlockCodeRequest, db: SessionDep, env: SignInEnvDep, context: SignInContextDep
) -> Accepted:
    unlock.send_unlock_code(db, env, email=body.email, context=context)
    return Accepted(
        detail="If this address belongs to a locked account, we mailed it a code. It is valid for "
        f"{env.settings.email_code_seconds // 60} minutes."
    )


@router.post(
    "/unlock",
    operation_id="requestUnlock",
    response_model=Unlocked,
    summary="Unlock a locked account with the mailed code and a new password",
    description=(
        "Sets the new password, lifts the lock, ends every other session and signs this client in, or, "
        "when the account has TOTP or a passkey, answers 401 `challenge_required`: the normal step-up those "
        "factors owe (completeChallenge). 401 `invalid_code`; 422 `weak_password` (the code stays usable); 429 `rate_limited`."
    ),
    responses={
        401: _problem("invalid_code"),
        422: _problem("weak_password or validation_error"),
        429: _problem("rate_limited with Retry-After"),
    },
)
def request_unlock(body: UnlockRequest, db: SessionDep, env: SignInEnvDep, context: SignInContextDep) -> Unlocked:
    pair, revoked = unlock.request_unlock(
        db, env, email=body.email, code=body.code, new_password=body.new_password, context=context
    )
    return Unlocked.from_pair(pair, revoked_sessions=revoked)
