"""Shapes of the customer's view of the audit trail."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SecurityEventItem(BaseModel):
    id: int
    at: datetime = Field(description="When it happened (UTC).")
    kind: str = Field(description="What happened, e.g. sign_in, password_changed, account_frozen.")
    ip: str | None = Field(description="The client address, when a client caused it.")
    country: str | None = Field(description="ISO country of that address (offline database).")
    device_id: str | None
    actor: str = Field(description="customer, system or staff: who did it.")
    reason: str | None


class SecurityEventList(BaseModel):
    items: list[SecurityEventItem]
    #: How many security events the account has in all.
    total: int
    #: The cursor of the next page (pass it as ``cursor``); null on the last page.
    next: str | None = None
