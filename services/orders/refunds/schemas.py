"""Shapes of the refund routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class RefundPartOut(BaseModel):
    tender: str = Field(description="points, gift_balance or card")
    amount: int
    state: str = Field(description="done, or pending until the card provider confirms")
    card_last4: str | None = None
    settled_at: datetime | None


class RefundOut(BaseModel):
    id: str
    order_id: str
    reason: str
    amount: int
    currency: str = "JPY"
    created_at: datetime
    parts: list[RefundPartOut]


class RefundList(BaseModel):
    items: list[RefundOut]
    #: The cursor of the next page (pass it as ``cursor``); null on the last page.
    next: str | None = None


class TenderTotal(BaseModel):
    tender: str
    paid: int
    refunded: int
    card_last4: str | None = None


class RefundConfirmation(BaseModel):
    """What a customer hands to a card issuer: the store confirms these refunds."""

    reference_code: str = Field(description="Quote it to the store or the card issuer; it names this confirmation.")
    order_id: str
    order_placed_at: datetime | None
    order_total: int
    currency: str = "JPY"
    refunded_total: int
    tenders: list[TenderTotal]
    refunds: list[RefundOut]
    issued_at: datetime
