"""What a "not me" report of an order left behind: one per order, whoever asks again.

A customer who taps "this was not me" twice, or a page that sends it twenty times at once, must
not open twenty cases, ask twenty step-ups and send forty mails: the order's report is kept
under a unique ``order_id`` with the case id orders minted for it (verification opens the case
under that id), and every later report of the same order is answered from it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mamori_common.db import UTCDateTime
from services.orders.database import Base
from services.orders.ordering.models import new_id


class NotMineReport(Base):
    __tablename__ = "not_mine_reports"
    __table_args__ = (UniqueConstraint("order_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    #: The "not me" case's id, minted here and announced in ``order.reported_not_mine``.
    case_id: Mapped[str] = mapped_column(String(32))
    #: What the first report did (``UndoReport.actions``), repeated to every later one.
    actions: Mapped[list[str]] = mapped_column(JSON)
    refund_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    return_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
