"""The message centre: every message Mamori sends a customer, with its reference code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mamori_common.db import UTCDateTime, utcnow
from services.auth.accounts.models import new_id
from services.auth.database import Base


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_account_created", "account_id", "created_at"),
        Index("ix_messages_mail_due", "mailed_at", "mail_next_try_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(String(32), ForeignKey("accounts.id"))
    #: Printed in every mail and shown in the portal, so a customer can tell a real mail from phishing.
    reference_code: Mapped[str] = mapped_column(String(32), unique=True)
    template: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    #: What the message centre shows: codes and tokens masked.
    body: Mapped[str] = mapped_column(Text)
    #: The mail as sent, codes included, encrypted with the service key; dropped once mailed.
    mail_body_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The address it was mailed to (an old address for change notices).
    recipient: Mapped[str] = mapped_column(String(320))
    source_service: Mapped[str] = mapped_column(String(32), default="auth")
    source_event_id: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    data: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When it was queued by the real clock (``created_at`` follows the app's, which tests freeze), so
    #: mail leaves in the order it was filed.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    mail_attempts: Mapped[int] = mapped_column(Integer, default=0)
    mail_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Not tried again before this time: a claim's lease while a replica sends, a backoff after a failure.
    mail_next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Which claim holds the mail, so a replica whose lease ran out cannot overwrite another's result.
    mail_claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
