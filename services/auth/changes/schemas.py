"""Request and response bodies of the changes routes (e-mail, password, revert)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from services.auth.accounts.addresses import EmailAddress
from services.auth.changes.models import ChangeKind
from services.auth.credentials.passwords import NewPassword


class ChangeEmailRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_email: EmailAddress


class EmailChangeStarted(BaseModel):
    """A code went to the new address; confirm it with ``confirmEmailChange``."""

    challenge_id: str
    expires_at: datetime
    #: The new address, masked.
    sent_to: str


class ConfirmEmailChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge_id: str = Field(min_length=1, max_length=64)
    code: str = Field(min_length=1, max_length=16)


class EmailChanged(BaseModel):
    email: str
    #: The old address got a notice with a code that undoes this change.
    notice_sent_to: str


class ChangePasswordRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: NewPassword
    #: End every other session of the account too (this one stays signed in).
    end_other_sessions: StrictBool = False


class PasswordChanged(BaseModel):
    status: Literal["password_changed"] = "password_changed"
    sessions_ended: int


class RevertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The revert code from the change notice (case, spaces and dashes do not matter).
    code: str = Field(min_length=1, max_length=64)


class RevertResult(BaseModel):
    status: Literal["reverted"] = "reverted"
    #: The intrusion case opened for the freeze.
    case_id: str
    #: When a password reset opens (None: only after staff reviewed the case).
    reset_opens_at: datetime | None
    #: The kinds of change undone (the reported one and any made after it).
    reverted: list[ChangeKind]
    #: False only if the old address now belongs to another account (staff then restore it).
    email_restored: bool
