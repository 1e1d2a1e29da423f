"""Plain data functions of the changes domain: revertible changes, reset tokens, attempt limits.

Revert codes and reset tokens are long random strings, so they are stored as plain SHA-256 (see
``credentials/codes.py``); they are spent with a conditional UPDATE, never a read-then-write, so
two concurrent uses of one code cannot both win.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as DbSession

from services.auth.accounts.models import Account
from services.auth.changes.models import AccountChange, ChangeKind, ResetToken
from services.auth.config import AuthSettings
from services.auth.credentials.codes import new_readable_code, new_token, normalise_readable_code, sha256_hex
from services.auth.messages.models import Message

#: Templates that count towards the per-account cap on reset mails.
RESET_MAIL_TEMPLATES = ("password_reset", "reset_cooldown", "reset_held")


def mask_email(address: str) -> str:
    """``h***@example.com``: enough for the owner to recognise, little for anyone else."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def revert_code_digest(code: str) -> str:
    """What is stored of a revert code: typed codes differ in case and dashes, so normalise first."""
    return sha256_hex(normalise_readable_code(code))


# -- revertible changes -------------------------------------------------------------------------


def new_change(
    db: DbSession,
    account: Account,
    kind: ChangeKind,
    *,
    old_value: dict[str, Any],
    new_value: dict[str, Any],
    notified_contact: str,
    session_id: str | None,
    ip: str | None,
    now: datetime,
    settings: AuthSettings,
) -> tuple[AccountChange, str]:
    """Record a change with a fresh revert code; return it and the clear code (mailed once)."""
    code = new_readable_code()
    change = AccountChange(
        account_id=account.id,
        kind=kind,
        old_value=old_value,
        new_value=new_value,
        notified_contact=notified_contact,
        revert_code_hash=revert_code_digest(code),
        revert_expires_at=now + timedelta(days=settings.revert_code_days),
        session_id=session_id,
        ip=ip,
        created_at=now,
    )
    db.add(change)
    db.flush()
    return change, code


def find_change_by_code(db: DbSession, code: str) -> AccountChange | None:
    if not normalise_readable_code(code):
        return None
    return db.execute(
        select(AccountChange).where(AccountChange.revert_code_hash == revert_code_digest(code))
    ).scalar_one_or_none()


def claim_change(db: DbSession, change: AccountChange, *, now: datetime) -> bool:
    """Mark ``change`` reverted if it is still unreverted and unexpired; False if someone was first."""
    result = db.execute(
        update(AccountChange)
        .where(
            AccountChange.id == change.id,
            AccountChange.reverted_at.is_(None),
            AccountChange.revert_expires_at > now,
        )
        .values(reverted_at=now)
        .execution_options(synchronize_session=False)
    )
    db.expire(change)
    return result.rowcount == 1  # type: ignore[attr-defined]


def later_changes(db: DbSession, change: AccountChange) -> list[AccountChange]:
    """Unreverted changes of the same account made at or after ``change``, oldest first.

    When the owner says one change was not theirs, whatever followed it came from the same
    intruder (the owner could no longer reach the account), so it is undone with it.
    """
    query = (
        select(AccountChange)
        .where(
            AccountChange.account_id == change.account_id,
            AccountChange.id != change.id,
            AccountChange.reverted_at.is_(None),
            AccountChange.created_at >= change.created_at,
        )
        .order_by(AccountChange.created_at)
    )
    return list(db.execute(query).scalars())


def mark_reverted(db: DbSession, changes: list[AccountChange], *, now: datetime) -> None:
    if changes:
        db.execute(
            update(AccountChange)
            .where(AccountChange.id.in_([c.id for c in changes]), AccountChange.reverted_at.is_(None))
            .values(reverted_at=now)
            .execution_options(synchronize_session=False)
        )
        for change in changes:
            db.expire(change)


# -- reset tokens -------------------------------------------------------------------------------


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
    return db.execute(
        select(ResetToken).where(ResetToken.token_hash == sha256_hex(token.strip()))
    ).scalar_one_or_none()


def claim_reset_token(db: DbSession, token: ResetToken, *, now: datetime) -> bool:
    """Spend ``token`` if it is unused and unexpired; False if it was spent first (or just expired)."""
    result = db.execute(
        update(ResetToken)
        .where(ResetToken.id == token.id, ResetToken.used_at.is_(None), ResetToken.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.expire(token)
    return result.rowcount == 1  # type: ignore[attr-defined]


def void_reset_tokens(db: DbSession, account_id: str, *, now: datetime) -> int:
    """Spend every unused reset token of the account (after a reset, or when it is frozen)."""
    result = db.execute(
        update(ResetToken)
        .where(ResetToken.account_id == account_id, ResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def reset_mails_since(db: DbSession, account_id: str, since: datetime) -> int:
    """Reset mails filed for the account since ``since`` (counted on the app clock, in the database,
    so every replica sees the same count)."""
    return int(
        db.execute(
            select(func.count())
            .select_from(Message)
            .where(
                Message.account_id == account_id,
                Message.template.in_(RESET_MAIL_TEMPLATES),
                Message.created_at > since,
            )
        ).scalar_one()
    )


# -- per-client attempt limits ------------------------------------------------------------------


class AttemptLimiter:
    """Sliding-window counters per client (the ``limits`` library): in memory, or on Redis when
    ``MAMORI_REDIS_URL`` is set so every replica shares the counts."""

    def __init__(self, storage_uri: str) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(storage_from_string(storage_uri))

    def hit(self, scope: str, key: str, *, limit: int, window_seconds: int) -> int | None:
        """Count one attempt; None when allowed, else the seconds to wait (for Retry-After)."""
        item = RateLimitItemPerSecond(limit, window_seconds)
        if self._limiter.hit(item, "mamori-auth", scope, key):
            return None
        stats = self._limiter.get_window_stats(item, "mamori-auth", scope, key)
        return max(1, min(window_seconds, math.ceil(stats.reset_time - time.time())))


_limiter_lock = threading.Lock()


def limiter_for(state: Any, settings: AuthSettings) -> AttemptLimiter:
    """The app's limiter for this domain, made on first use (kept on ``app.state``)."""
    limiter = getattr(state, "changes_limiter", None)
    if limiter is None:
        with _limiter_lock:
            limiter = getattr(state, "changes_limiter", None)
            if limiter is None:
                limiter = AttemptLimiter(settings.redis_url or "memory://")
                state.changes_limiter = limiter
    return limiter
