"""Returns of shipped lines: opened by the customer (or by orders after an intrusion), received by staff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from mamori_common.db import UTCDateTime
from services.orders.database import Base
from services.orders.ordering.models import new_id


class Return(Base):
    __tablename__ = "returns"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    line_ids: Mapped[list[str]] = mapped_column(JSON)
    #: ``customer``, ``not_mine`` or ``intrusion``.
    reason: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # requested, received
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refund_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
