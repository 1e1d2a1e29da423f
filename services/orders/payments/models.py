"""Payment tables: the sandbox provider's own (as a real provider keeps them) and our task queue.

The ``sandbox_*`` tables stand for the provider's side; only :mod:`payments.sandbox` touches them.
``payment_tasks`` is ours: every capture, void and card refund is first queued in the same
transaction as the order change that needs it, then carried out by :mod:`payments.settlement`
with the task id as the provider's idempotency key, so a failed call is retried and never doubled.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mamori_common.db import UTCDateTime
from services.orders.database import Base
from services.orders.ordering.models import new_id


class SandboxAuthorisation(Base):
    __tablename__ = "sandbox_authorisations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    idempotency_key: Mapped[str] = mapped_column(String(96), unique=True)
    card_token: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # authorised, voided
    captured: Mapped[int] = mapped_column(Integer, default=0)
    refunded: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SandboxOperation(Base):
    """A capture, void or refund against an authorisation, recorded once per idempotency key."""

    __tablename__ = "sandbox_operations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    idempotency_key: Mapped[str] = mapped_column(String(96), unique=True)
    authorisation_id: Mapped[str] = mapped_column(ForeignKey("sandbox_authorisations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # capture, void, refund
    amount: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TaskAction(str, enum.Enum):
    capture = "capture"
    void = "void"
    refund = "refund"


class PaymentTask(Base):
    __tablename__ = "payment_tasks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    tender_id: Mapped[str] = mapped_column(ForeignKey("tenders.id"), index=True)
    action: Mapped[TaskAction] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)
    refund_part_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending, done
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
