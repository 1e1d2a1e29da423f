"""Orders, their lines and the tenders that paid for them, and the one-click setting."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mamori_common.db import UTCDateTime
from services.orders.database import Base


def new_id() -> str:
    return uuid.uuid4().hex


class OrderState(str, enum.Enum):
    #: One-click is off: nothing is charged until the customer confirms.
    awaiting_confirmation = "awaiting_confirmation"
    #: Risk hold: authorised, never captured or shipped until a case decides.
    held = "held"
    placed = "placed"
    cancelled = "cancelled"


class LineKind(str, enum.Enum):
    physical = "physical"
    digital = "digital"
    subscription = "subscription"
    gift_card = "gift_card"
    balance_top_up = "balance_top_up"


class LineState(str, enum.Enum):
    open = "open"
    shipped = "shipped"
    cancelled = "cancelled"
    return_requested = "return_requested"
    returned = "returned"


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    state: Mapped[str] = mapped_column(String(32))
    total: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="JPY")
    risk_outcome: Mapped[str] = mapped_column(String(16))
    risk_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    #: When that session began (the access token's claim), for the risk rules' session age.
    session_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    client_ip: Mapped[str] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="Asia/Tokyo")
    #: Set when a ``session.compromised`` named this order's session (S2).
    compromised_case_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Bumped as the first write of every change: the row lock that serialises changes of one order.
    lock_version: Mapped[int] = mapped_column(Integer, default=0)

    lines: Mapped[list[OrderLine]] = relationship(order_by="OrderLine.position", lazy="selectin")
    tenders: Mapped[list[Tender]] = relationship(order_by="Tender.position", lazy="selectin")

    __table_args__ = (Index("ix_orders_account_created", "account_id", "created_at"),)


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_amount: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32))
    #: Digital goods: first downloaded or opened (then no longer cancellable).
    used: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Gift cards: redeemed by someone (then no longer cancellable).
    redeemed: Mapped[bool] = mapped_column(Boolean, default=False)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TenderKind(str, enum.Enum):
    points = "points"
    gift_balance = "gift_balance"
    card = "card"


class Tender(Base):
    """One way an order was paid. ``captured`` and ``refunded`` are what this service committed to:
    a refund never takes a tender past ``captured - refunded``."""

    __tablename__ = "tenders"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)
    captured: Mapped[int] = mapped_column(Integer, default=0)
    refunded: Mapped[int] = mapped_column(Integer, default=0)
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    # Cards only: never a full number.
    card_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    card_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    card_expiry: Mapped[str | None] = mapped_column(String(7), nullable=True)
    card_holder: Mapped[str | None] = mapped_column(String(100), nullable=True)
    authorisation_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class OneClickSetting(Base):
    __tablename__ = "one_click_settings"

    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
