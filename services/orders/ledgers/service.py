"""Balances as sums of append-only entries; a debit takes the ledger's lock and never overdraws."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mamori_common.db import rows_changed
from mamori_common.problems import Problem
from services.orders.ledgers.models import LedgerEntry, LedgerHead

LEDGERS = ("points", "gift_balance")


def balance(db: Session, account_id: str, ledger: str) -> int:
    total = db.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.account_id == account_id, LedgerEntry.ledger == ledger
        )
    )
    return int(total or 0)


def _lock(db: Session, account_id: str, ledger: str) -> None:
    mine = (LedgerHead.account_id == account_id) & (LedgerHead.ledger == ledger)
    if rows_changed(db.execute(update(LedgerHead).where(mine).values(version=LedgerHead.version + 1))):
        return
    try:
        with db.begin_nested():
            db.execute(insert(LedgerHead).values(account_id=account_id, ledger=ledger, version=1))
    except IntegrityError:
        db.execute(update(LedgerHead).where(mine).values(version=LedgerHead.version + 1))


def credit(
    db: Session, account_id: str, ledger: str, amount: int, reason: str, now: datetime, order_id: str | None = None
) -> None:
    db.add(
        LedgerEntry(
            account_id=account_id, ledger=ledger, amount=amount, reason=reason, order_id=order_id, created_at=now
        )
    )


def debit(
    db: Session, account_id: str, ledger: str, amount: int, reason: str, now: datetime, order_id: str | None = None
) -> None:
    """Take ``amount`` off the ledger, or 409 ``insufficient_<ledger>`` and nothing changes."""
    _lock(db, account_id, ledger)
    if balance(db, account_id, ledger) < amount:
        raise Problem(409, f"insufficient_{ledger}", f"The {ledger.replace('_', ' ')} does not cover {amount} yen.")
    db.add(
        LedgerEntry(
            account_id=account_id, ledger=ledger, amount=-amount, reason=reason, order_id=order_id, created_at=now
        )
    )
