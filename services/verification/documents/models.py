"""The documents table: what was kept of an upload (encrypted on disk), never what was refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mamori_common.db import UTCDateTime
from services.verification.cases.models import new_id
from services.verification.database import Base


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    account_id: Mapped[str] = mapped_column(String(64), nullable=False)
    #: application/pdf, image/png or image/jpeg, from the file's bytes (never the client's word).
    content_type: Mapped[str] = mapped_column(String(32), nullable=False)
    filename: Mapped[str] = mapped_column(String(200), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    pages: Mapped[int] = mapped_column(Integer, nullable=False)
    #: Which key encrypted the stored file (keys rotate; old ones still decrypt).
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    #: True when the stored copy is the one with card digits blacked out.
    masked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: What the scan read: last-4 and name matches, per page (never any full number).
    findings: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
