"""Routes: ``changeEmail``, ``confirmEmailChange``, ``changePassword``, ``revertChange``."""

from __future__ import annotations

from fastapi import APIRouter, status

from mamori_common.db import SessionDep
from mamori_common.quotas import rate_limited
from services.auth import quotas
from services.auth.changes import flows
from services.auth.changes.schemas import (
    ChangeEmailRequest,
    ChangePasswordRequest,
    ConfirmEmailChangeRequest,
    EmailChanged,
    EmailChangeStarted,
    PasswordChanged,
    RevertRequest,
    RevertResult,
)
from services.auth.changes.service import mask_email
from services.auth.deps import CurrentAccount, CurrentSession, RecentSession, RequestContextDep
from services.auth.env import EnvDep

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/email/change",
    operation_id="changeEmail",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EmailChangeStarted,
    summary="Start changing the account's e-mail: a code goes to the new address",
    description=(
        "Needs a sign-in within the last minutes (else 401 `reauthentication_required`). 403 "
        "`account_restricted` unless the account is active; 409 `email_taken`; 422 `email_unchanged`; "
        "429 `rate_limited`. Confirm with `confirmEmailChange`; the old address is then notified with a "
        "revert code."
    ),
)
def change_email(
    body: ChangeEmailRequest,
    db: SessionDep,
    session: RecentSession,
    account: CurrentAccount,
    context: RequestContextDep,
    env: EnvDep,
) -> EmailChangeStarted:
    started = flows.request_email_change(db, env, account, str(body.new_email), session=session, context=context)
    db.commit()
    return EmailChangeStarted(
        challenge_id=started.challenge.id, expires_at=started.challenge.expires_at, sent_to=started.sent_to
    )


@router.post(
    "/email/confirm",
    operation_id="confirmEmailChange",
    response_model=EmailChanged,
    summary="Confirm the new e-mail with the code mailed to it",
    description=(
        "404 `challenge_not_found` (unknown, or another account's); 403 `invalid_code` with "
        "`attempts_left`; 410 `code_expired`, `code_used` or `code_exhausted`; 409 `email_taken`."
    ),
)
def confirm_email_change(
    body: ConfirmEmailChangeRequest,
    db: SessionDep,
    session: CurrentSession,
    account: CurrentAccount,
    context: RequestContextDep,
    env: EnvDep,
) -> EmailChanged:
    new, old = flows.confirm_email_change(
        db, env, account, body.challenge_id, body.code, session=session, context=context
    )
    db.commit()
    return EmailChanged(email=new, notice_sent_to=mask_email(old))


@router.post(
    "/password/change",
    operation_id="changePassword",
    response_model=PasswordChanged,
    summary="Change the password (the registered address gets a notice with a revert code)",
    description=(
        "Needs a sign-in within the last minutes (else 401 `reauthentication_required`). 403 "
        "`wrong_password` when the current password is not right (capped: 429 `rate_limited`); 422 "
        "`weak_password`; 403 `account_restricted`. Other sessions stay unless `end_other_sessions`."
    ),
)
def change_password(
    body: ChangePasswordRequest,
    db: SessionDep,
    session: RecentSession,
    account: CurrentAccount,
    context: RequestContextDep,
    env: EnvDep,
) -> PasswordChanged:
    ended = flows.change_password(
        db,
        env,
        account,
        body.current_password,
        body.new_password,
        end_other_sessions=body.end_other_sessions,
        session=session,
        context=context,
    )
    db.commit()
    return PasswordChanged(sessions_ended=ended)


@router.post(
    "/changes/revert",
    operation_id="revertChange",
    response_model=RevertResult,
    summary='"This was not me": undo a change with the code mailed to the old contact, and freeze the account',
    description=(
        "No sign-in needed: the code is the proof. Undoes the change and every later one, invalidates the "
        "password, ends every session, opens an intrusion case and starts the reset cool-down. 404 "
        "`unknown_revert_code`; 410 `revert_code_used` or `revert_code_expired`; 429 `rate_limited` per "
        "client address."
    ),
)
def revert_change(body: RevertRequest, db: SessionDep, context: RequestContextDep, env: EnvDep) -> RevertResult:
    wait = env.quotas.spend(quotas.revert_attempts(env.settings), context.ip)
    if wait:
        raise rate_limited(wait, "Too many requests from this address. Wait before trying again.")
    reverted = flows.revert_change(db, env, body.code, context=context)
    db.commit()
    return RevertResult(
        case_id=reverted.case_id,
        reset_opens_at=reverted.reset_opens_at,
        reverted=reverted.kinds,
        email_restored=reverted.email_restored,
    )
