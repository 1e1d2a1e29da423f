"""Account changes that can be reverted from the old contact (story S5)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from mamori_common.db import UTCDateTime, utcnow
from services.auth.accounts.models import new_id
from services.auth.database import Base


class ChangeKind(str, enum.Enum):
    email = "email"
    password = "password"
    phone = "phone"
    totp = "totp"
    #: A passkey added or removed (``old_value``: ``added_passkey_id`` or ``removed_passkey_id``).
    passkey = "passkey"
    #: "Passkey required" turned on or off (``old_value``: ``passkey_required``).
    passkey_required = "passkey_required"
    #: A sign-in from a new device or country (``intrusion/sign_ins.py``): nothing to restore, but
    #: its revert undoes every change since and freezes (``new_value``: the session and what was new).
    sign_in = "sign_in"


class AccountChange(Base):
    """One change of a contact or credential; the old contact holds a code that reverts it."""

    __tablename__ = "account_changes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(String(32), ForeignKey("accounts.id"), index=True)
    kind: Mapped[ChangeKind] = mapped_column(Enum(ChangeKind, native_enum=False, length=16))
    #: What a revert restores (an old e-mail, phone, encrypted TOTP secret); never a password.
    old_value: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    new_value: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    #: Where the old contact was when notified (the address the revert code went to).
    notified_contact: Mapped[str | None] = mapped_column(String(320), nullable=True)
    revert_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revert_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
