"""Sessions opened from somewhere new, watched for the moves of an intruder (story S2)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from mamori_common.db import UTCDateTime, utcnow
from services.auth.database import Base


class WatchedSession(Base):
    """A session whose sign-in was from a new device or country, and what it did since.

    Only such sessions get a row (``intrusion/policy.py`` never judges the others), so the table
    grows with new-device sign-ins, not with every request.
    """

    __tablename__ = "watched_sessions"

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), ForeignKey("accounts.id"), index=True)
    new_device: Mapped[bool] = mapped_column(Boolean, default=False)
    new_country: Mapped[bool] = mapped_column(Boolean, default=False)
    country: Mapped[str | None] = mapped_column(String(8), nullable=True)
    #: The account's e-mail when the session began: the OLD contact the owner is told at, even
    #: after the session moved the address.
    contact_before: Mapped[str] = mapped_column(String(320))
    #: Moves seen (``policy.Move`` values), each once.
    moves: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the policy acted on it, and the intrusion case it opened.
    acted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    case_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
