"""Sign-in attempts (with their risk signals), step-up challenges and devices an account knows."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mamori_common.db import UTCDateTime, utcnow
from services.auth.accounts.models import new_id
from services.auth.database import Base


class SignInOutcome(str, enum.Enum):
    success = "success"
    bad_credentials = "bad_credentials"
    challenged = "challenged"
    challenge_passed = "challenge_passed"
    challenge_failed = "challenge_failed"
    throttled = "throttled"
    locked = "locked"
    refused = "refused"


class SignInAttempt(Base):
    """One row per attempt, known account or not: the record risk decisions and audits read."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_account_at", "account_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("accounts.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[SignInOutcome] = mapped_column(Enum(SignInOutcome, native_enum=False, length=24))
    ip: Mapped[str] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(8), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
    signals: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class KnownDevice(Base):
    """A device (long-lived cookie or ``device_id``) the owner has signed in from successfully."""

    __tablename__ = "known_devices"
    __table_args__ = (Index("ix_known_devices_account_device", "account_id", "device_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(32), ForeignKey("accounts.id"))
    device_id: Mapped[str] = mapped_column(String(128))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_country: Mapped[str | None] = mapped_column(String(8), nullable=True)


class ChallengePurpose(str, enum.Enum):
    login = "login"
    unlock = "unlock"
    email_change = "email_change"
    #: Not a challenge to answer: a password reset done from a client proves the mailbox to the
    #: next sign-in from that client (signin/factors.py), within ``reset_token_seconds``.
    reset_proof = "reset_proof"
    #: A staff account with no second factor may only enrol one (``staff/second_factor.py``).
    staff_enrolment = "staff_enrolment"


class Challenge(Base):
    """A step-up, unlock or e-mail confirmation: a mailed code (stored hashed) or TOTP.

    ``account_id`` is None for a decoy: the challenge an unknown address gets once it has failed
    as often as a real account's consecutive-failure guard allows (nobody can pass it).
    """

    __tablename__ = "challenges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("accounts.id"), index=True, nullable=True)
    purpose: Mapped[ChallengePurpose] = mapped_column(Enum(ChallengePurpose, native_enum=False, length=16))
    methods: Mapped[list[str]] = mapped_column(JSON)
    code_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Where it was asked from and what it is for (ip, device, new e-mail ...).
    context: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class UnknownAddressStreak(Base):
    """Consecutive failed sign-ins to an address no account has, kept like an account's
    ``failure_streak`` so the consecutive-failure guard answers it alike (no enumeration).

    Keyed by the digest the throttle counts accounts under: the table holds no address.
    """

    __tablename__ = "unknown_address_streaks"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Device(Base):
    """A device (browser or API client) the server issued a device token to (``signin/devices.py``).

    Only the SHA-256 of the token's current secret is kept; each sign-in from the device replaces
    it, so an older token stops being recognised. ``id`` is the public part of the token: the
    handle ``known_devices``, sessions and attempts name the device by, worth nothing without
    the secret and the server's signature.
    """

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
