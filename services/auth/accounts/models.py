"""Accounts: customers and staff alike, told apart by role."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mamori_common.db import UTCDateTime, utcnow
from services.auth.database import Base


def new_id() -> str:
    return uuid.uuid4().hex


class Role(str, enum.Enum):
    customer = "customer"
    specialist = "specialist"
    support = "support"
    admin = "admin"


class AccountState(str, enum.Enum):
    """An account's standing (see :mod:`services.auth.accounts.standing` for what each may do).

    The ``accounts.state`` column stores only the lasting ones (``active``, ``frozen``,
    ``closed``); ``locked`` and ``restricted`` are derived from ``locked_until`` and from the open
    rows of ``account_restrictions``, so nothing that sets one state can erase another.
    """

    active = "active"
    restricted = "restricted"
    locked = "locked"
    frozen = "frozen"
    closed = "closed"


DEFAULT_TIME_ZONE = "Asia/Tokyo"


class Language(str, enum.Enum):
    ja = "ja"
    en = "en"


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    language: Mapped[Language] = mapped_column(Enum(Language, native_enum=False, length=8), default=Language.ja)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16), default=Role.customer)
    #: Argon2id hash; None once invalidated by a freeze, until a reset sets a new one.
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    #: Where times in mails are shown (IANA zone); API fields stay UTC.
    time_zone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIME_ZONE)

    #: The lasting state only: active, frozen or closed (never locked or restricted, which are derived).
    state: Mapped[AccountState] = mapped_column(
        Enum(AccountState, native_enum=False, length=16), default=AccountState.active
    )
    #: Why the account is frozen or closed, and the case that says so.
    state_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    state_case_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: A temporary lock holds while ``locked_until`` is in the future, under its own case.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lock_case_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lock_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: After a security freeze a reset is refused until this time (story S5).
    reset_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    #: Consecutive failed sign-ins (wrong password or failed step-up), reset on success.
    failure_streak: Mapped[int] = mapped_column(Integer, default=0)
    #: Consecutive failed step-up challenges; locking depends on these, never on bare guesses.
    failed_step_ups: Mapped[int] = mapped_column(Integer, default=0)
    lock_count: Mapped[int] = mapped_column(Integer, default=0)

    #: TOTP secret, encrypted with the service's key; active once ``totp_enabled_at`` is set.
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Last accepted TOTP time step: a code is accepted once.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)

    #: "Passkey required": a password never signs in by itself; it needs the passkey or a recovery
    #: code (services/auth/signin/policy.py). On only while the account has a passkey.
    passkey_required: Mapped[bool] = mapped_column(Boolean, default=False)

    #: Another service asked for a step-up at the next sign-in, from any device (cleared by one).
    step_up_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    step_up_case_id: Mapped[str | None] = mapped_column(String(32), nullable=True)

    #: Items to re-check after a recovery (payment methods, addresses, subscriptions); JSON list.
    recheck_items: Mapped[str | None] = mapped_column(Text, nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def totp_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def is_staff(self) -> bool:
        return self.role is not Role.customer


class AccountRestriction(Base):
    """A case that restricts the account until it is decided (``case.opened`` with
    ``restricts_account``). Keyed by case id, so a case restricts once however often it is announced.

    Rows are kept once lifted (``lifted_at``), as the account's history, and so that a lift that
    arrives before its ``case.opened`` (events may cross) is not undone by the late opening.
    """

    __tablename__ = "account_restrictions"

    case_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Why it ended: ``case.approved``, ``case.closed`` or ``case.rejected``.
    lifted_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
