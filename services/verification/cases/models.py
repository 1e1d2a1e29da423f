"""Tables of the cases domain: the case, its checklist and its timeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mamori_common.contract import CaseKind
from mamori_common.db import UTCDateTime
from services.verification.cases.states import CaseState
from services.verification.database import Base


def new_id() -> str:
    return uuid.uuid4().hex


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    #: ``contract.case_number(id)``: what a person reads aloud; unique so two ids never share one.
    number: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    account_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    kind: Mapped[CaseKind] = mapped_column(String(32), nullable=False)
    state: Mapped[str] = mapped_column(String(32), nullable=False, default=CaseState.awaiting_customer.value)
    restricts_account: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: The promised answer time (the kind's hours after the customer's last input).
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_customer_input_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: When it was decided or closed: documents are purged a retention period after this.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Rounds the customer has had (each "request more" or non-final rejection is one).
    rounds: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: The specialist who proposed the final rejection; a second one must confirm it.
    rejection_proposed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rejection_reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: A callback was asked for, or support escalated it: staff owe a step whatever the state.
    needs_staff: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Payment verification: what orders said about the held payment(s).
    order_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    card_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    holder_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    held_amount: Mapped[int | None] = mapped_column(Integer, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)

    items: Mapped[list[ChecklistItem]] = relationship(
        back_populates="case", order_by="ChecklistItem.position", cascade="all, delete-orphan"
    )
    timeline: Mapped[list[TimelineEntry]] = relationship(
        back_populates="case", order_by="TimelineEntry.id", cascade="all, delete-orphan"
    )

    __table_args__ = (Index("ix_cases_queue", "state", "due_at"),)

    @property
    def case_state(self) -> CaseState:
        return CaseState(self.state)


class ChecklistItem(Base):
    __tablename__ = "checklist_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    #: missing, received, accepted, rejected (see cases/checklist.py).
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="missing")
    reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: How it was met: ``document`` (found on an upload) or ``supplement`` (typed).
    source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: A typed supplement (an address, a phone number): never a card number (checked).
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    case: Mapped[Case] = relationship(back_populates="items")


class TimelineEntry(Base):
    __tablename__ = "timeline_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: customer, system, specialist, support, admin, or a service (auth, orders).
    actor: Mapped[str] = mapped_column(String(32), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: portal (the customer's own calls), event (another service), staff (the console), phone.
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    kind: Mapped[str] = mapped_column(String(48), nullable=False)
    summary_ja: Mapped[str] = mapped_column(Text, nullable=False)
    summary_en: Mapped[str] = mapped_column(Text, nullable=False)
    #: Staff notes and audit of document views stay internal.
    visible_to_customer: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)

    case: Mapped[Case] = relationship(back_populates="timeline")
