"""Request and response bodies of the passkey routes.

Options are exactly what ``webauthn.options_to_json`` gives (base64url strings for challenge, user
id and credential ids); a credential is the browser's ``PublicKeyCredential.toJSON()``.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from services.auth.passkeys.policy import NAME_MAX_LENGTH


class EmptyRequest(BaseModel):
    """``{}``: the ceremony's parameters come from the account and the settings."""

    model_config = ConfigDict(extra="forbid")


class CeremonyStarted(BaseModel):
    ceremony_id: str
    expires_at: datetime
    options: dict[str, Any] = Field(description="PublicKeyCredentialCreationOptions or RequestOptions, as JSON.")


def _clean_name(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = unicodedata.normalize("NFC", value).strip()
    if not cleaned:
        raise ValueError("the name must not be blank")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in cleaned):
        raise ValueError("the name must not hold control characters")
    return cleaned


class FinishRegistrationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ceremony_id: str = Field(min_length=1, max_length=64)
    credential: dict[str, Any] = Field(description="PublicKeyCredential.toJSON() of navigator.credentials.create().")
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)

    _name = field_validator("name")(_clean_name)


class RenamePasskeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)

    @field_validator("name")
    @classmethod
    def _clean(cls, value: str) -> str:
        cleaned = _clean_name(value)
        assert cleaned is not None
        return cleaned


class PasskeyView(BaseModel):
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool = Field(description="Synced to a cloud account (usable on the owner's other devices).")
    transports: list[str]


class PasskeyAdded(PasskeyView):
    recovery_codes: list[str] | None = Field(
        default=None,
        description="Fresh single-use recovery codes when the account had neither TOTP nor unused recovery codes "
        "(shown only now): the mailbox never stands in for a passkey, so they are the way in if it is lost.",
    )


class PasskeyList(BaseModel):
    passkeys: list[PasskeyView] = Field(description="Newest first.")


class FinishSignInRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ceremony_id: str = Field(min_length=1, max_length=64)
    credential: dict[str, Any] = Field(description="PublicKeyCredential.toJSON() of navigator.credentials.get().")
    #: The device token an earlier sign-in answered with (``signin/devices.py``), in place of the
    #: ``X-Device-Token`` header when a client cannot set headers.
    device_token: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")


class SetPasskeyRequiredRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    required: StrictBool


class PasskeyRequired(BaseModel):
    required: bool
    recovery_codes: list[str] | None = Field(
        description="Fresh single-use recovery codes when turning it on issued them (shown only now), else null."
    )
