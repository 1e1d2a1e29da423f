"""Plain data functions of reset tokens: 32 random bytes, stored as SHA-256, spent with a
conditional UPDATE (never a read-then-write), so two concurrent uses of one token cannot both win."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from mamori_common.db import rows_changed
from services.auth.accounts.models import Account
from services.auth.config import AuthSettings
from services.auth.credentials.codes import new_token, sha256_hex
from services.auth.resets.models import ResetToken


def new_reset_token(db: DbSession, account: Account, *, now: datetime, settings: AuthSettings) -> str:
    """32 random bytes, stored as SHA-256; return the clear token (mailed once)."""
    token = new_token(32)
    db.add(
        ResetToken(
            account_id=account.id,
            token_hash=sha256_hex(token),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.reset_token_seconds),
        )
    )
    return token


def find_reset_token(db: DbSession, token: str) -> ResetToken | None:
    return db.execute(select(ResetToken).where(ResetToken.token_hash == sha256_hex(token.strip()))).scalar_one_or_none()


def claim_reset_token(db: DbSession, token: ResetToken, *, now: datetime) -> bool:
    """Spend ``token`` if it is unused and unexpired; False if it was spent first (or just expired)."""
    result = db.execute(
        update(ResetToken)
        .where(ResetToken.id == token.id, ResetToken.used_at.is_(None), ResetToken.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.expire(token)
    return rows_changed(result) == 1


def void_reset_tokens(db: DbSession, account_id: str, *, now: datetime) -> int:
    """Spend every unused reset token of the account (after a reset, or when it is frozen)."""
    result = db.execute(
        update(ResetToken)
        .where(ResetToken.account_id == account_id, ResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(rows_changed(result) or 0)
