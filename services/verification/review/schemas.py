"""Shapes of the staff routes: the queue, the review view, decisions, notes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.verification.cases.schemas import CaseDetail, CaseSummary, TimelineView


class QueueItem(CaseSummary):
    account_id: str
    needs_staff: bool = Field(description="A callback was asked for, or support escalated it.")
    outstanding: list[str] = Field(description="Checklist items still missing or rejected.")
    changes_since_review: list[TimelineView] = Field(description="Timeline entries since the last review.")
    last_reviewed_at: datetime | None


class Queue(BaseModel):
    items: list[QueueItem]
    #: The cursor of the next page (pass it as ``cursor``); null on the last page.
    next: str | None = None


class SupplementView(BaseModel):
    item: str
    value: str


class ReviewDetail(CaseDetail):
    account_id: str
    rounds_used: int
    rounds_allowed: int
    rejection_proposed_by: str | None
    supplements: list[SupplementView]
    holder_name: str | None
    held_amount: int | None
    currency: str | None


class SupportDetail(CaseDetail):
    """What support staff see: state, checklist and timeline; never documents (the list is empty)."""

    account_id: str


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject", "request_more"]
    reason_code: str = Field(
        min_length=1, max_length=64, description="From the reason catalogue; the customer reads its text."
    )
    order_action: Literal["release", "cancel"] = Field(
        default="release", description="On approval: what orders does with held orders."
    )
    note: str = Field(default="", max_length=2000, description="Internal note (not shown to the customer).")


class NoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=2000)
