"""Gift-card balance and points: append-only entries; a balance is the sum of its entries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mamori_common.db import UTCDateTime
from services.orders.database import Base


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(32))
    #: ``points`` or ``gift_balance``.
    ledger: Mapped[str] = mapped_column(String(16))
    #: Positive credits, negative debits; an entry is never changed or deleted.
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_ledger_entries_account", "account_id", "ledger"),)


class LedgerHead(Base):
    """One row per (account, ledger), updated first in a debit's transaction: its lock."""

    __tablename__ = "ledger_heads"

    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ledger: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
