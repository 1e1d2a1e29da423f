"""Request and response bodies of the sign-in, step-up and unlock routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class CodeAnswer(BaseModel):
    """An ``email_code``, ``totp`` or ``recovery_code`` step-up answered with its code."""

    model_config = ConfigDict(extra="forbid")

    challenge_id: str = Field(min_length=1, max_length=64)
    method: Literal["email_code", "totp", "recovery_code"]
    code: str = Field(min_length=1, max_length=64)


class PasskeyAnswer(BaseModel):
    """A ``passkey`` step-up answered with the browser's ``PublicKeyCredential.toJSON()``."""

    model_config = ConfigDict(extra="forbid")

    challenge_id: str = Field(min_length=1, max_length=64)
    method: Literal["passkey"]
    credential: dict[str, Any]


#: The answer's shape follows its ``method`` (a code, or a passkey credential, never both), declared
#: as a ``oneOf`` on ``method`` so a client sees the rule the server holds it to.
CompleteChallengeRequest = Annotated[CodeAnswer | PasskeyAnswer, Field(discriminator="method")]


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
