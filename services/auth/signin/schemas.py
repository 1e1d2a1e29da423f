"""Request and response bodies of the sign-in, step-up and unlock routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.auth.sessions.schemas import TokenResponse


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Any string: a malformed address is answered like an unknown one (401), not with a hint.
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    #: Overrides the ``X-Device-ID`` header and the ``mamori_device`` cookie when given.
    device_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")


class CompleteChallengeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge_id: str = Field(min_length=1, max_length=64)
    method: Literal["email_code", "totp", "recovery_code"]
    code: str = Field(min_length=1, max_length=64)


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
    new_password: str = Field(min_length=1, max_length=1024)


class Unlocked(TokenResponse):
    """The account is open again and this client is signed in with the new password."""

    status: Literal["unlocked"] = "unlocked"
    #: Sessions that were ended, every one the account had.
    revoked_sessions: int
