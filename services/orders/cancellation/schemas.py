"""Shapes of cancelOrder and reportNotMine."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from services.orders.ordering.schemas import OrderOut
from services.orders.refunds.schemas import RefundOut


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_ids: list[str] | None = Field(
        default=None, max_length=50, description="Lines to cancel; all lines not yet cancelled when omitted."
    )


class CancelResult(BaseModel):
    order: OrderOut
    refund: RefundOut | None
    authorisation_voided: bool


class NotMineResult(BaseModel):
    order: OrderOut
    actions: list[str] = Field(
        description="What orders did: cancelled, refunded, return_opened, not_cancellable:<code>."
    )
    refund: RefundOut | None
    return_id: str | None
    case_id: str = Field(description='The "not me" case: the same for every report of the order.')
    case_number: str = Field(description="The case's number, read aloud (C-XXXX-XXXX).")
