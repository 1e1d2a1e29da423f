"""Request and response bodies of the TOTP routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class TotpEnrollment(BaseModel):
    #: Base32 secret, for typing into an app by hand; shown once.
    secret: str
    #: ``otpauth://totp/...`` URI (issuer Mamori, the account's e-mail as name), for a QR code.
    otpauth_uri: str


class TotpCodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The current 6-digit code of the authenticator app (or, to disable, a recovery code).
    code: str = Field(min_length=1, max_length=64)


class TotpConfirmation(BaseModel):
    enabled_at: datetime
    #: Single-use codes for when the phone is lost. Shown only now: we keep only their hashes.
    recovery_codes: list[str]
