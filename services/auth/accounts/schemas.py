"""Request and response bodies of the account routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.auth.accounts.addresses import EmailAddress
from services.auth.accounts.models import AccountState, Language, Role
from services.auth.accounts.standing import Capability
from services.auth.credentials.passwords import NewPassword


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailAddress
    password: NewPassword
    name: str = Field(min_length=1, max_length=200)
    language: Language = Language.ja


class RegisterResponse(BaseModel):
    account_id: str


class RestrictionView(BaseModel):
    """An undecided case that restricts the account."""

    case_id: str
    case_number: str = Field(description="The number to read aloud (C-XXXX-XXXX), shown in every message.")
    kind: str
    reason: str


class AccountView(BaseModel):
    account_id: str
    email: str
    name: str
    language: Language
    time_zone: str = Field(description="Where times in this account's mails are shown (IANA zone).")
    role: Role
    state: AccountState = Field(description="The standing: active, restricted, locked, frozen or closed.")
    state_reason: str | None
    case_id: str | None = Field(description="The case behind the state, if any.")
    case_number: str | None
    restrictions: list[RestrictionView] = Field(
        description="Every undecided case restricting the account (also while it is locked or frozen)."
    )
    may: list[Capability] = Field(description="What the account may do in this standing.")
    locked_until: datetime | None
    totp_enabled: bool
    passkey_required: bool = Field(description='"Passkey required": a password alone never signs in.')
    passkeys: int = Field(description="How many passkeys the account has.")
    recheck_items: list[str]
    created_at: datetime
