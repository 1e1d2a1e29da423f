"""Request and response bodies of the staff routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.auth.accounts.models import AccountState, Role


class StaffActionRequest(BaseModel):
    """Every staff action names its reason: it goes into the audit trail with the staff member,
    and a freeze's reason is shown to the customer."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)


class AccountStatus(BaseModel):
    """What staff may see of an account: its state and why, never a secret."""

    account_id: str
    #: Masked: enough to match a caller's account on the phone, little else.
    email: str
    role: Role
    state: AccountState
    state_reason: str | None
    case_id: str | None
    case_number: str | None
    restricting_case_ids: list[str]
    locked_until: datetime | None
    frozen_at: datetime | None
    reset_opens_at: datetime | None
    #: False while a freeze keeps the password invalid.
    password_set: bool
    totp_enabled: bool
    recheck_items: list[str]
    created_at: datetime


class EnrolmentRequest(BaseModel):
    """The enrolment token a staff sign-in without a second factor answered with."""

    model_config = ConfigDict(extra="forbid")

    enrolment_token: str = Field(min_length=1, max_length=128)


class EnrolmentConfirmRequest(EnrolmentRequest):
    #: The current 6-digit code of the authenticator app.
    code: str = Field(min_length=1, max_length=64)
