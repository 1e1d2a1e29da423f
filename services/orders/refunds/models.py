"""Refunds, each split into parts by tender; a card part is done when the provider confirmed it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mamori_common.db import UTCDateTime
from services.orders.database import Base
from services.orders.ordering.models import new_id


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    #: Why: ``cancelled``, ``returned``, ``not_mine``, ``intrusion``, ``subscription_cancelled``.
    reason: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    parts: Mapped[list[RefundPart]] = relationship(order_by="RefundPart.position", lazy="selectin")


class RefundPart(Base):
    __tablename__ = "refund_parts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    refund_id: Mapped[str] = mapped_column(ForeignKey("refunds.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    tender_id: Mapped[str] = mapped_column(ForeignKey("tenders.id"))
    tender_kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)
    #: ``done`` for ledger parts at once; ``pending`` for a card until the provider confirms.
    state: Mapped[str] = mapped_column(String(16))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
