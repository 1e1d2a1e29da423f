"""Shapes of requestReturn and receiveReturn."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.orders.refunds.schemas import RefundOut


class ReturnRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_ids: list[str] = Field(min_length=1, max_length=50)


class ReturnOut(BaseModel):
    id: str
    order_id: str
    line_ids: list[str]
    reason: str
    state: str = Field(description="requested, then received (and refunded)")
    requested_at: datetime
    received_at: datetime | None
    refund: RefundOut | None = None
