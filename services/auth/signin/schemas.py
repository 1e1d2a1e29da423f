"""Request and response bodies of the sign-in, step-up and unlock routes."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.auth.credentials.passwords import NewPassword
from services.auth.sessions.schemas import TokenResponse


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Any string: a malformed address is answered like an unknown one (401), not with a hint.
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    #: The device token an earlier sign-in answered with (``signin/devices.py``), in place of the
    #: ``X-Device-Token`` header when a client cannot set headers.
    device_token: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")


class CompleteChallengeRequest(BaseModel):
    """A code for ``email_code``, ``totp`` and ``recovery_code``; a ``credential`` (the browser's
    ``PublicKeyCredential.toJSON()``) for ``passkey``."""

    model_config = ConfigDict(extra="forbid")

    challenge_id: str = Field(min_length=1, max_length=64)
    method: Literal["email_code", "totp", "recovery_code", "passkey"]
    code: str | None = Field(default=None, min_length=1, max_length=64)
    credential: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _answer_fits_the_method(self) -> Self:
        if self.method == "passkey" and (self.credential is None or self.code is not None):
            raise ValueError("a passkey answer is a credential, without a code")
        if self.method != "passkey" and (self.code is None or self.credential is not None):
            raise ValueError("this method's answer is a code, without a credential")
        return self


class SendUnlockCodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320)


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    detail: str


class UnlockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320)
    code: str = Field(min_length=1, max_length=64)
    new_password: NewPassword


class Unlocked(TokenResponse):
    """The account is open again and this client is signed in with the new password."""

    status: Literal["unlocked"] = "unlocked"
    #: Sessions that were ended, every one the account had.
    revoked_sessions: int
