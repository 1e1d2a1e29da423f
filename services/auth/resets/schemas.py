"""Request and response bodies of the reset routes (request, confirm, re-check)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from services.auth.accounts.addresses import EmailAddress
from services.auth.credentials.passwords import NewPassword

#: The things a customer is asked to re-check after recovering from a freeze.
RecheckItem = Literal["payment_methods", "addresses", "subscriptions"]


class PasswordResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailAddress


class PasswordResetAccepted(BaseModel):
    """The same for every address, known or not."""

    status: Literal["accepted"] = "accepted"
    detail: str = "If an account uses this address, we sent it a message: a reset code, or when a reset opens."


class ConfirmPasswordResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=256)
    new_password: NewPassword
    #: End every session of the account (a reset signs nobody in).
    end_other_sessions: StrictBool = True


class PasswordResetDone(BaseModel):
    """No tokens: the customer signs in afresh with the new password."""

    status: Literal["password_reset"] = "password_reset"
    sessions_ended: int
    recheck_items: list[str]


class AcknowledgeRecheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The items checked; omitted means all of them.
    items: list[RecheckItem] | None = Field(default=None, max_length=10)


class RecheckList(BaseModel):
    recheck_items: list[str]
