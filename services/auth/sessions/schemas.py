"""Request and response bodies of the session routes."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from services.auth.sessions.service import TokenPair


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    """The tokens every route that signs someone in answers with (login, step-up, unlock, refresh)."""

    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    #: Seconds the access token lives.
    expires_in: int
    device_token: str | None = Field(
        default=None,
        description=(
            "Sign-ins only: this device's new device token. Send it as `X-Device-Token` on your next sign-in so "
            "we recognise the device; it replaces the one you sent (rotated on every sign-in), and is never "
            "shown again anywhere."
        ),
    )

    @classmethod
    def from_pair(cls, pair: TokenPair, **extra: object) -> Self:
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            token_type=pair.token_type,
            expires_in=pair.expires_in,
            device_token=pair.device_token,
            **extra,
        )


class LogoutRequest(BaseModel):
    """Optional: a client whose access token has expired signs out with its refresh token alone."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: str | None = Field(default=None, min_length=1, max_length=256)


class SessionView(BaseModel):
    id: str
    created_at: datetime
    last_seen_at: datetime
    ip: str | None
    country: str | None
    #: The device's public handle (a device token's first part, which opens nothing by itself);
    #: the token itself is never shown.
    device_id: str | None
    user_agent: str | None
    #: True for the session this request was made with.
    current: bool


class SessionList(BaseModel):
    sessions: list[SessionView]
    #: The cursor of the next page (pass it as ``cursor``); null on the last page.
    next: str | None = None


class RevokeSessionsRequest(BaseModel):
    """Either ``session_id`` (one of your own sessions) or ``all_but_current: true``."""

    model_config = ConfigDict(extra="forbid")

    session_id: str | None = Field(default=None, min_length=1, max_length=64)
    all_but_current: StrictBool = False

    @model_validator(mode="after")
    def exactly_one_target(self) -> RevokeSessionsRequest:
        if (self.session_id is None) == (not self.all_but_current):
            raise ValueError("give either session_id or all_but_current: true, not both or neither")
        return self


class RevokedSessions(BaseModel):
    #: Ids of the sessions this call ended (empty when there was nothing left to end).
    revoked: list[str]
