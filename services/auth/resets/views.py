"""Routes: ``requestPasswordReset``, ``confirmPasswordReset``, ``acknowledgeRecheck``."""

from __future__ import annotations

from fastapi import APIRouter, status

from mamori_common.db import SessionDep
from mamori_common.quotas import rate_limited
from services.auth import quotas
from services.auth.deps import CurrentAccount, RequestContextDep
from services.auth.env import EnvDep
from services.auth.resets import flows
from services.auth.resets.schemas import (
    AcknowledgeRecheckRequest,
    ConfirmPasswordResetRequest,
    PasswordResetAccepted,
    PasswordResetDone,
    PasswordResetRequest,
    RecheckList,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/password/reset",
    operation_id="requestPasswordReset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PasswordResetAccepted,
    summary="Ask for a password reset code by mail (always 202)",
    description="Always 202 with the same body, whether or not an account uses the address. 429 per client address.",
)
def request_password_reset(
    body: PasswordResetRequest, db: SessionDep, context: RequestContextDep, env: EnvDep
) -> PasswordResetAccepted:
    """Always the same answer, so the address typed reveals nothing (no user enumeration).

    Decision (story S5, "refused for a cool-down with a clear answer saying when it opens"): the
    refusal and its opening time go to the OWNER, by mail and in the message centre, never in this
    response. Answering 423 here would tell anyone who types an address that it belongs to a frozen
    account. So a frozen account in its cool-down gets no token but a ``reset_cooldown`` mail
    naming the exact opening time; after the cool-down, a normal reset code. Whoever holds a code
    and tries it early gets the time in the 423 of ``confirmPasswordReset`` (holding a code proves
    the mailbox, so that reveals nothing new).
    """
    wait = env.quotas.spend(quotas.reset_requests(env.settings), context.ip)
    if wait:
        raise rate_limited(wait, "Too many requests from this address. Wait before trying again.")
    flows.request_password_reset(db, env, str(body.email), context=context)
    db.commit()
    return PasswordResetAccepted()


@router.post(
    "/password/reset/confirm",
    operation_id="confirmPasswordReset",
    response_model=PasswordResetDone,
    summary="Set a new password with a mailed reset code (signs nobody in)",
    description=(
        "404 `invalid_reset_token` for an unknown code, 410 `invalid_reset_token` for a used or expired one; "
        "423 `reset_cooling_down` with `opens_at` and Retry-After while a frozen account cools down; 422 "
        "`weak_password`. Ends every session unless `end_other_sessions` is false. No tokens: sign in anew."
    ),
)
def confirm_password_reset(
    body: ConfirmPasswordResetRequest, db: SessionDep, context: RequestContextDep, env: EnvDep
) -> PasswordResetDone:
    done = flows.confirm_password_reset(
        db, env, body.token, body.new_password, end_other_sessions=body.end_other_sessions, context=context
    )
    db.commit()
    return PasswordResetDone(sessions_ended=done.sessions_ended, recheck_items=done.recheck_items)


@router.post(
    "/recheck/acknowledge",
    operation_id="acknowledgeRecheck",
    response_model=RecheckList,
    summary="Tick off the re-check list shown after a recovery",
    description="Without `items`, clears the whole list. Returns what is left to re-check.",
)
def acknowledge_recheck(
    db: SessionDep,
    account: CurrentAccount,
    context: RequestContextDep,
    env: EnvDep,
    body: AcknowledgeRecheckRequest | None = None,
) -> RecheckList:
    left = flows.acknowledge_recheck(db, env, account, body.items if body is not None else None, context=context)
    db.commit()
    return RecheckList(recheck_items=left)
