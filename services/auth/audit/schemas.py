"""Shapes of the customer's view of the audit trail."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

#: The most security events one page holds.
PAGE_MAX = 100


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
    total: int
    limit: int
    offset: int
