"""Request and response bodies of the passkey routes.

Options are exactly what ``webauthn.options_to_json`` gives (base64url strings for challenge, user
id and credential ids); a credential is the browser's ``PublicKeyCredential.toJSON()``.
"""

from __future__ import annotations

import functools
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


#: What a passkey's name may not hold: control, format and line or paragraph separator characters.
_UNPRINTABLE = ("Cc", "Cf", "Zl", "Zp")


@functools.cache
def name_pattern() -> str:
    """:func:`_clean_name`'s rule as a pattern: once trimmed, not blank and none of
    :data:`_UNPRINTABLE` (listed from the same Unicode database, once, when the document is built)."""
    points = [p for p in range(0x110000) if not 0xD800 <= p <= 0xDFFF and unicodedata.category(chr(p)) in _UNPRINTABLE]
    runs: list[list[int]] = []
    for point in points:
        if runs and runs[-1][1] == point - 1:
            runs[-1][1] = point
        else:
            runs.append([point, point])

    def one(point: int) -> str:
        return f"\\u{point:04x}" if point <= 0xFFFF else chr(point)

    excluded = "".join(one(a) if a == b else f"{one(a)}-{one(b)}" for a, b in runs)
    # Whitespace around the name is trimmed (so may be anything), what is left is checked.
    return rf"^\s*[^{excluded}\s](?:[^{excluded}]*[^{excluded}\s])?\s*$"


def _declare_name_pattern(schema: dict[str, Any]) -> None:
    schema["pattern"] = name_pattern()


def _clean_name(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = unicodedata.normalize("NFC", value).strip()
    if not cleaned:
        raise ValueError("the name must not be blank")
    if any(unicodedata.category(char) in _UNPRINTABLE for char in cleaned):
        raise ValueError("the name must not hold control characters")
    return cleaned


class FinishRegistrationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ceremony_id: str = Field(min_length=1, max_length=64)
    credential: dict[str, Any] = Field(description="PublicKeyCredential.toJSON() of navigator.credentials.create().")
    name: str | None = Field(
        default=None, min_length=1, max_length=NAME_MAX_LENGTH, json_schema_extra=_declare_name_pattern
    )

    _name = field_validator("name")(_clean_name)


class RenamePasskeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH, json_schema_extra=_declare_name_pattern)

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
