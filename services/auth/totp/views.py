"""Routes: ``enrollTotp``, ``confirmTotp``, ``disableTotp``. Each needs a sign-in within the last
ten minutes (401 ``reauthentication_required``), as every sensitive change does."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from mamori_common.clock import ClockDep
from mamori_common.db import SessionDep
from services.auth.deps import CurrentAccount, EncryptorDep, RecentSession, RequestContextDep, SettingsDep
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
    db: SessionDep,
    clock: ClockDep,
    session: RecentSession,
    account: CurrentAccount,
    context: RequestContextDep,
    settings: SettingsDep,
    encryptor: EncryptorDep,
) -> TotpEnrollment:
    secret, uri = flows.enroll(db, account, context=context, now=clock.now(), settings=settings, encryptor=encryptor)
    db.commit()
    return TotpEnrollment(secret=secret, otpauth_uri=uri)


@router.post(
    "/totp/confirm",
    operation_id="confirmTotp",
    response_model=TotpConfirmation,
    summary="Turn TOTP on with a code from the app; answers 10 single-use recovery codes",
    description="422 `invalid_code` for a wrong code (nothing changes); 409 `totp_not_enrolled` without enrolment.",
)
def confirm_totp(
    body: TotpCodeRequest,
    db: SessionDep,
    clock: ClockDep,
    session: RecentSession,
    account: CurrentAccount,
    context: RequestContextDep,
    settings: SettingsDep,
    encryptor: EncryptorDep,
) -> TotpConfirmation:
    now = clock.now()
    codes = flows.confirm(
        db, account, body.code, session=session, context=context, now=now, settings=settings, encryptor=encryptor
    )
    db.commit()
    return TotpConfirmation(enabled_at=now, recovery_codes=codes)


@router.post(
    "/totp/disable",
    operation_id="disableTotp",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Turn TOTP off, proven by a current code or a recovery code",
    description="422 `invalid_code` for a wrong or already used code; 409 `totp_not_enabled` when TOTP is off.",
)
def disable_totp(
    body: TotpCodeRequest,
    db: SessionDep,
    clock: ClockDep,
    session: RecentSession,
    account: CurrentAccount,
    context: RequestContextDep,
    settings: SettingsDep,
    encryptor: EncryptorDep,
) -> Response:
    flows.disable(
        db,
        account,
        body.code,
        session=session,
        context=context,
        now=clock.now(),
        settings=settings,
        encryptor=encryptor,
    )
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
