"""Routes: ``enrollTotp``, ``confirmTotp``, ``disableTotp``. Each needs a sign-in within the last
ten minutes (401 ``reauthentication_required``), as every sensitive change does."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from mamori_common.db import SessionDep
from services.auth.deps import CurrentAccount, RecentSession, RequestContextDep
from services.auth.env import EnvDep
from services.auth.totp import flows
from services.auth.totp.schemas import TotpCodeRequest, TotpConfirmation, TotpEnrollment

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/totp/enroll",
    operation_id="enrollTotp",
    response_model=TotpEnrollment,
    summary="Start TOTP: a new secret and its otpauth URI (active once confirmed)",
    description=(
        "Enrolling again before confirming replaces the pending secret. "
        "409 `totp_already_enabled` when TOTP is on (disable it first)."
    ),
)
def enroll_totp(
    db: SessionDep, session: RecentSession, account: CurrentAccount, context: RequestContextDep, env: EnvDep
) -> TotpEnrollment:
    secret, uri = flows.enroll(db, env, account, context=context)
    db.commit()
    return TotpEnrollment(secret=secret, otpauth_uri=uri)


@router.post(
    "/totp/confirm",
    operation_id="confirmTotp",
    response_model=TotpConfirmation,
    summary="Turn TOTP on with a code from the app; answers 10 single-use recovery codes",
    description="403 `invalid_code` for a wrong code (nothing changes); 409 `totp_not_enrolled` without enrolment.",
)
def confirm_totp(
    body: TotpCodeRequest,
    db: SessionDep,
    session: RecentSession,
    account: CurrentAccount,
    context: RequestContextDep,
    env: EnvDep,
) -> TotpConfirmation:
    codes = flows.confirm(db, env, account, body.code, session=session, context=context)
    db.commit()
    assert account.totp_enabled_at is not None
    return TotpConfirmation(enabled_at=account.totp_enabled_at, recovery_codes=codes)


@router.post(
    "/totp/disable",
    operation_id="disableTotp",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Turn TOTP off, proven by a current code or a recovery code",
    description="403 `invalid_code` for a wrong or already used code; 409 `totp_not_enabled` when TOTP is off.",
)
def disable_totp(
    body: TotpCodeRequest,
    db: SessionDep,
    session: RecentSession,
    account: CurrentAccount,
    context: RequestContextDep,
    env: EnvDep,
) -> Response:
    flows.disable(db, env, account, body.code, session=session, context=context)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
