"""Routes: staff ``freezeAccount``, ``unlockAccount`` and ``getAccountStatus``; and the enrolment of a
second factor by a staff account that has none (``enrollStaffTotp``, ``confirmStaffTotp``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from mamori_common.clock import ClockDep
from mamori_common.db import SessionDep
from mamori_common.path_ids import path_id
from services.auth.accounts.models import Account
from services.auth.deps import RequestContextDep, staff_role_guard
from services.auth.env import EnvDep
from services.auth.staff import flows, second_factor
from services.auth.staff.schemas import AccountStatus, EnrolmentConfirmRequest, EnrolmentRequest, StaffActionRequest
from services.auth.totp.schemas import TotpConfirmation, TotpEnrollment

router = APIRouter(prefix="/api/auth/staff", tags=["auth staff"])

#: Who may freeze or unlock: specialists (who review cases) and admins; never support.
ActingStaff = Annotated[Account, Depends(staff_role_guard("specialist", "admin"))]
#: Who may read an account's state: support too (they see status, never documents or secrets).
ReadingStaff = Annotated[Account, Depends(staff_role_guard("specialist", "support", "admin"))]
AccountId = Annotated[str, path_id("The customer's account id.")]


@router.post(
    "/accounts/{account_id}/freeze",
    operation_id="freezeAccount",
    response_model=AccountStatus,
    summary="Freeze an account (specialist or admin): password invalidated, sessions revoked, case opened",
    description=(
        "The reason is recorded with the staff member and shown to the customer. 403 `forbidden` for other "
        "roles (and for staff accounts unless admin); 404 `account_not_found`; 409 `already_frozen` or "
        "`account_closed`. The password reset opens after the configured cool-down."
    ),
)
def freeze_account(
    account_id: AccountId,
    body: StaffActionRequest,
    staff: ActingStaff,
    db: SessionDep,
    clock: ClockDep,
    context: RequestContextDep,
    env: EnvDep,
) -> AccountStatus:
    target = flows.target_account(db, account_id)
    flows.freeze(db, env, target, staff, body.reason, context=context)
    db.commit()
    return flows.status_of(db, target, now=clock.now())


@router.post(
    "/accounts/{account_id}/unlock",
    operation_id="unlockAccount",
    response_model=AccountStatus,
    summary="Lift a lock, or open a frozen account's password reset at once (specialist or admin)",
    description=(
        "A locked account becomes active. A frozen account stays frozen with its password invalid, but its "
        "reset opens now: the owner sets a new password by reset. Audited with the staff member and reason; "
        "the customer gets a message. 403 `forbidden`; 404 `account_not_found`; 409 `not_locked`."
    ),
)
def unlock_account(
    account_id: AccountId,
    body: StaffActionRequest,
    staff: ActingStaff,
    db: SessionDep,
    clock: ClockDep,
    context: RequestContextDep,
    env: EnvDep,
) -> AccountStatus:
    target = flows.target_account(db, account_id)
    flows.unlock(db, env, target, staff, body.reason, context=context)
    db.commit()
    return flows.status_of(db, target, now=clock.now())


@router.get(
    "/accounts/{account_id}",
    operation_id="getAccountStatus",
    response_model=AccountStatus,
    summary="An account's state, its reason and case (specialist, support or admin; no secrets)",
)
def get_account_status(account_id: AccountId, staff: ReadingStaff, db: SessionDep, clock: ClockDep) -> AccountStatus:
    return flows.status_of(db, flows.target_account(db, account_id), now=clock.now())


# -- a staff account without a second factor: enrolment only (staff/second_factor.py) --------------


@router.post(
    "/enrolment/totp",
    operation_id="enrollStaffTotp",
    response_model=TotpEnrollment,
    summary="Staff without a second factor: start TOTP with the enrolment token the sign-in gave",
    description="401 `enrolment_invalid` for a token that is unknown, expired, spent or out of tries.",
)
def enroll_staff_totp(
    body: EnrolmentRequest, db: SessionDep, context: RequestContextDep, env: EnvDep
) -> TotpEnrollment:
    secret, uri = second_factor.begin_totp(db, env, body.enrolment_token, context=context)
    db.commit()
    return TotpEnrollment(secret=secret, otpauth_uri=uri)


@router.post(
    "/enrolment/totp/confirm",
    operation_id="confirmStaffTotp",
    response_model=TotpConfirmation,
    summary="Staff without a second factor: turn TOTP on with a code from the app, then sign in again",
    description=(
        "Answers the recovery codes and spends the enrolment token. 403 `invalid_code` (the try counts); "
        "409 `totp_not_enrolled`; 401 `enrolment_invalid`."
    ),
)
def confirm_staff_totp(
    body: EnrolmentConfirmRequest, db: SessionDep, context: RequestContextDep, env: EnvDep
) -> TotpConfirmation:
    codes = second_factor.confirm_totp(db, env, body.enrolment_token, body.code, context=context)
    db.commit()
    return TotpConfirmation(enabled_at=env.clock.now(), recovery_codes=codes)
