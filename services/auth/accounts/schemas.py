"""Request and response bodies of the account routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.auth.accounts.models import AccountState, Language, Role


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    name: str = Field(min_length=1, max_length=200)
    language: Language = Language.ja


class RegisterResponse(BaseModel):
    account_id: str


class AccountView(BaseModel):
    account_id: str
    email: str
    name: str
    language: Language
    role: Role
    state: AccountState
    state_reason: str | None
    case_id: str | None
    locked_until: datetime | None
    totp_enabled: bool
    recheck_items: list[str]
    created_at: datetime
