"""Routes: ``changeEmail``, ``confirmEmailChange``, ``changePassword``, ``revertChange``,
``requestPasswordReset``, ``confirmPasswordReset``, ``acknowledgeRecheck``."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from mamori_common.clock import ClockDep
from mamori_common.db import SessionDep
from mamori_common.events import Outbox
from mamori_common.problems import Problem
from services.auth.changes import flows, service
from services.auth.changes.schemas import (
    AcknowledgeRecheckRequest,
    ChangeEmailRequest,
    ChangePasswordRequest,
    ConfirmEmailChangeRequest,
    ConfirmPasswordResetRequest,
    EmailChanged,
    EmailChangeStarted,
    PasswordChanged,
    PasswordResetAccepted,
    PasswordResetDone,
    PasswordResetRequest,
    RecheckList,
    RevertRequest,
    RevertResult,
)
from services.auth.changes.service import mask_email
from services.auth.deps import (
    CodeHasherDep,
    CurrentAccount,
    CurrentSession,
    EncryptorDep,
    PasswordsDep,
    RecentSession,
    RequestContextDep,
    SettingsDep,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _outbox(request: Request) -> Outbox:
    return request.app.state.outbox


def _limit_client(request: Request, scope: str, ip: str, *, limit: int, window_seconds: int) -> None:
    """429 with Retry-After once this client address used up its attempts for ``scope``."""
    settings = request.app.state.settings
    wait = service.limiter_for(request.app.state, settings).hit(scope, ip, limit=limit, window_seconds=window_seconds)
    if wait is not None:
        raise Problem(
            429,
            "rate_limited",
            "Too many requests from this address. Wait before trying again.",
            headers={"Retry-After": str(wait)},
            retry_after=wait,
        )


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
    clock: ClockDep,
    context: RequestContextDep,
    settings: SettingsDep,
    hasher: CodeHasherDep,
    encryptor: EncryptorDep,
) -> EmailChangeStarted:
    started = flows.request_email_change(
        db, account, str(body.new_email),
        session=session, context=context, now=clock.now(), settings=settings, hasher=hasher, encryptor=encryptor,
    )
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
        "404 `challenge_not_found` (unknown, or another account's); 422 `invalid_code` with "
        "`attempts_left`; 410 `code_expired`, `code_used` or `code_exhausted`; 409 `email_taken`."
    ),
)
def confirm_email_change(
    body: ConfirmEmailChangeRequest,
    db: SessionDep,
    session: CurrentSession,
    account: CurrentAccount,
    clock: ClockDep,
    context: RequestContextDep,
    settings: SettingsDep,
    hasher: CodeHasherDep,
    encryptor: EncryptorDep,
) -> EmailChanged:
    new, old = flows.confirm_email_change(
        db, account, body.challenge_id, body.code,
        session=session, context=context, now=clock.now(), settings=settings, hasher=hasher, encryptor=encryptor,
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
    clock: ClockDep,
    context: RequestContextDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
    encryptor: EncryptorDep,
) -> PasswordChanged:
    ended = flows.change_password(
        db, account, body.current_password, body.new_password,
        end_other_sessions=body.end_other_sessions, session=session, context=context, now=clock.now(),
        settings=settings, passwords=passwords, encryptor=encryptor,
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
def revert_change(
    body: RevertRequest,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    context: RequestContextDep,
    settings: SettingsDep,
    encryptor: EncryptorDep,
) -> RevertResult:
    _limit_client(
        request, "revert", context.ip,
        limit=settings.revert_attempts_per_ip, window_seconds=settings.revert_attempt_window_seconds,
    )
    reverted = flows.revert_change(
        db, body.code, context=context, now=clock.now(), settings=settings, outbox=_outbox(request), encryptor=encryptor
    )
    db.commit()
    return RevertResult(
        case_id=reverted.case_id,
        reset_opens_at=reverted.reset_opens_at,
        reverted=reverted.kinds,
        email_restored=reverted.email_restored,
    )


@router.post(
    "/password/reset",
    operation_id="requestPasswordReset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PasswordResetAccepted,
    summary="Ask for a password reset code by mail (always 202)",
    description="Always 202 with the same body, whether or not an account uses the address. 429 per client address.",
)
def request_password_reset(
    body: PasswordResetRequest,
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    context: RequestContextDep,
    settings: SettingsDep,
    encryptor: EncryptorDep,
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
    _limit_client(
        request, "reset", context.ip,
        limit=settings.reset_requests_per_ip, window_seconds=settings.reset_request_window_seconds,
    )
    flows.request_password_reset(
        db, str(body.email), context=context, now=clock.now(), settings=settings, encryptor=encryptor
    )
    db.commit()
    return PasswordResetAccepted()


@router.post(
    "/password/reset/confirm",
    operation_id="confirmPasswordReset",
    response_model=PasswordResetDone,
    summary="Set a new password with a mailed reset code (signs nobody in)",
    description=(
        "400 `invalid_reset_token` for an unknown code, 410 `invalid_reset_token` for a used or expired one; "
        "423 `reset_cooling_down` with `opens_at` and Retry-After while a frozen account cools down; 422 "
        "`weak_password`. Ends every session unless `end_other_sessions` is false. No tokens: sign in anew."
    ),
)
def confirm_password_reset(
    body: ConfirmPasswordResetRequest,
    db: SessionDep,
    clock: ClockDep,
    context: RequestContextDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
    encryptor: EncryptorDep,
) -> PasswordResetDone:
    done = flows.confirm_password_reset(
        db, body.token, body.new_password,
        end_other_sessions=body.end_other_sessions, context=context, now=clock.now(), settings=settings,
        passwords=passwords, encryptor=encryptor,
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
    clock: ClockDep,
    context: RequestContextDep,
    body: AcknowledgeRecheckRequest | None = None,
) -> RecheckList:
    left = flows.acknowledge_recheck(
        db, account, body.items if body is not None else None, context=context, now=clock.now()
    )
    db.commit()
    return RecheckList(recheck_items=left)
