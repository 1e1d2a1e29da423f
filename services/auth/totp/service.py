"""TOTP (RFC 6238) and recovery codes: plain data functions, shared with the step-up challenges.

The secret is kept encrypted (it must be read back to compute codes). A code is accepted once:
each accepted time step is recorded, and a code whose step is not newer is refused, so a code seen
over a shoulder or phished in real time cannot be used a second time. Recovery codes are stored as
the SHA-256 of their normalised form (16 characters from a 31-letter alphabet: about 79 bits, too
many to brute-force from a stolen table) and each works once.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session as DbSession

from mamori_common.db import rows_changed
from services.auth.accounts.models import Account
from services.auth.credentials.codes import new_readable_code, normalise_readable_code, sha256_hex
from services.auth.credentials.encryption import Encryptor
from services.auth.totp.models import RecoveryCode

#: Seconds per TOTP step: what every authenticator app assumes.
TOTP_STEP_SECONDS = 30
#: Steps accepted either side of now (RFC 6238 section 5.2 recommends at most one): a clock
#: drift of up to 30 s, and a code typed just as it rolled over, still work.
TOTP_VALID_WINDOW = 1
TOTP_DIGITS = 6


def new_secret() -> str:
    """160 random bits in base32, the length RFC 4226 recommends for HMAC-SHA1."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, *, account_name: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=issuer
    )


def _clean_totp_code(code: str) -> str | None:
    cleaned = "".join(code.split())
    return cleaned if len(cleaned) == TOTP_DIGITS and cleaned.isascii() and cleaned.isdigit() else None


def matching_step(secret: str, code: str, *, now: datetime) -> int | None:
    """The time step whose code ``code`` is (within the window), or None. Constant-time compares."""
    cleaned = _clean_totp_code(code)
    if cleaned is None:
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)
    current = int(now.timestamp()) // TOTP_STEP_SECONDS
    found = None
    for step in range(current - TOTP_VALID_WINDOW, current + TOTP_VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), cleaned) and found is None:
            found = step
    return found


def record_step(db: DbSession, account: Account, step: int) -> bool:
    """Record ``step`` as the last one used, only if it is newer: False means it was used already.

    A conditional UPDATE, so two requests carrying the same code at once cannot both pass.
    """
    result = db.execute(
        update(Account)
        .where(Account.id == account.id, or_(Account.totp_last_step.is_(None), Account.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    db.expire(account, ["totp_last_step"])
    return rows_changed(result) == 1


def check_totp(db: DbSession, account: Account, code: str, *, encryptor: Encryptor, now: datetime) -> bool:
    """Whether ``code`` is a fresh code of the account's ENABLED TOTP; records its step. Caller commits.

    A code of a step at or before the last accepted one is refused (replay), even inside the window.
    """
    if account.totp_enabled_at is None or account.totp_secret_encrypted is None:
        return False
    step = matching_step(encryptor.decrypt(account.totp_secret_encrypted), code, now=now)
    if step is None:
        return False
    if account.totp_last_step is not None and step <= account.totp_last_step:
        return False
    return record_step(db, account, step)


def use_recovery_code(db: DbSession, account: Account, code: str, *, now: datetime) -> bool:
    """Spend one of the account's recovery codes; False if unknown or already used. Caller commits."""
    normalised = normalise_readable_code(code)
    if not normalised or len(normalised) > 64:
        return False
    result = db.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.account_id == account.id,
            RecoveryCode.code_hash == sha256_hex(normalised),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return rows_changed(result) == 1


def replace_recovery_codes(db: DbSession, account: Account, *, count: int, now: datetime) -> list[str]:
    """Delete the account's recovery codes and issue ``count`` new ones; return them in clear, once."""
    db.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    codes = [new_readable_code() for _ in range(count)]
    db.add_all(
        RecoveryCode(account_id=account.id, code_hash=sha256_hex(normalise_readable_code(code)), created_at=now)
        for code in codes
    )
    return codes


def delete_recovery_codes(db: DbSession, account: Account) -> None:
    db.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))


def unused_recovery_codes(db: DbSession, account: Account) -> int:
    """How many of the account's recovery codes can still be used."""
    query = (
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None))
    )
    return int(db.execute(query).scalar_one())
