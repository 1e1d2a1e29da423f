"""Plain data functions of the changes domain: revertible changes.

Revert codes are long random strings, so they are stored as plain SHA-256 (see
``credentials/codes.py``); they are spent with a conditional UPDATE, never a read-then-write, so
two concurrent uses of one code cannot both win.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from mamori_common.db import rows_changed
from services.auth.accounts.models import Account
from services.auth.changes.models import AccountChange, ChangeKind
from services.auth.config import AuthSettings
from services.auth.credentials.codes import new_readable_code, normalise_readable_code, sha256_hex


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
    return rows_changed(result) == 1


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
