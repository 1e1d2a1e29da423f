"""Passkeys (WebAuthn credentials) of an account, and the ceremonies that register and use them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Enum, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from mamori_common.db import UTCDateTime, utcnow
from services.auth.accounts.models import new_id
from services.auth.database import Base


class Passkey(Base):
    """One registered credential. Removing it only sets ``removed_at``: a revert may bring back a
    passkey an intruder removed, and its credential id stays reserved meanwhile."""

    __tablename__ = "passkeys"
    __table_args__ = (Index("ix_passkeys_account_id_created_at", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(String(32), ForeignKey("accounts.id"))
    #: The credential id, base64url without padding (at most 1023 bytes: 1364 characters); unique
    #: across every account, so a discoverable sign-in names exactly one.
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    #: The COSE public key the authenticator gave at registration.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    #: The last signature counter seen (0 for authenticators that do not count).
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    #: What the browser said the authenticator speaks (``internal``, ``hybrid``, ``usb`` ...).
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Synced to a cloud account (a "multi-device" passkey), as the last assertion said.
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    aaguid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CeremonyPurpose(str, enum.Enum):
    registration = "registration"
    sign_in = "sign_in"


class PasskeyCeremony(Base):
    """A WebAuthn challenge for a registration (bound to its account) or a discoverable sign-in
    (no account yet): answered once, before ``expires_at``.

    A login's step-up keeps its WebAuthn challenge in the login's own
    :class:`~services.auth.signin.models.Challenge` instead, whose tries and lock rules it shares.
    """

    __tablename__ = "passkey_ceremonies"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("accounts.id"), index=True, nullable=True)
    #: The session that started a registration.
    session_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    purpose: Mapped[CeremonyPurpose] = mapped_column(Enum(CeremonyPurpose, native_enum=False, length=16))
    #: The challenge, base64url.
    challenge: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Indexed: opening a ceremony deletes the ones long past (:func:`.service.open_ceremony`).
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
