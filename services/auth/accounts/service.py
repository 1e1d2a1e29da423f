"""Plain data functions on accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session as DbSession

from mamori_common.db import rows_changed
from mamori_common.problems import Problem
from services.auth.accounts import standing
from services.auth.accounts.models import Account, AccountRestriction, AccountState, Language, Role, new_id
from services.auth.credentials.passwords import Passwords, password_problems


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_by_email(db: DbSession, email: str) -> Account | None:
    return db.execute(select(Account).where(Account.email == normalise_email(email))).scalar_one_or_none()


def check_new_password(password: str, *, email: str, name: str) -> None:
    problems = password_problems(password, email=email, name=name)
    if problems:
        raise Problem(
            422,
            "weak_password",
            "Choose another password: " + "; ".join(problems) + ".",
            reasons=problems,
        )


def create_account(
    db: DbSession,
    passwords: Passwords,
    *,
    email: str,
    password: str,
    name: str,
    role: Role = Role.customer,
    language: Language = Language.ja,
    password_hash: str | None = None,
) -> Account:
    """Create an account; the caller commits. ``password_hash`` lets async callers hash off-loop."""
    email = normalise_email(email)
    check_new_password(password, email=email, name=name)
    if db.execute(select(func.count()).select_from(Account).where(Account.email == email)).scalar_one():
        raise Problem(409, "email_taken", "An account with this e-mail address already exists.")
    account = Account(
        email=email,
        name=name.strip(),
        role=role,
        language=language,
        password_hash=password_hash or passwords.hash(password),
    )
    db.add(account)
    db.flush()
    return account


# -- standing and restrictions -------------------------------------------------------------------


def open_restrictions(db: DbSession, account_id: str) -> list[standing.Restriction]:
    """The account's undecided restricting cases, oldest first."""
    rows = db.execute(
        select(AccountRestriction)
        .where(AccountRestriction.account_id == account_id, AccountRestriction.lifted_at.is_(None))
        .order_by(AccountRestriction.opened_at, AccountRestriction.case_id)
    ).scalars()
    return [standing.Restriction(row.case_id, row.kind, row.reason) for row in rows]


def standing_for(db: DbSession, account: Account, *, now: datetime) -> standing.Standing:
    return standing.standing_of(account, open_restrictions(db, account.id), now=now)


def add_restriction(db: DbSession, account: Account, *, case_id: str, kind: str, reason: str, now: datetime) -> bool:
    """Record the case's restriction; False when this case is already known (open, or lifted before
    its opening arrived: then it stays lifted). Caller commits."""
    if db.get(AccountRestriction, case_id) is not None:
        return False
    db.add(AccountRestriction(case_id=case_id, account_id=account.id, kind=kind, reason=reason, opened_at=now))
    db.flush()
    return True


def lift_restriction(db: DbSession, account: Account, *, case_id: str, kind: str, by: str, now: datetime) -> bool:
    """End the case's restriction; False when it was not open. A lift that comes before its
    ``case.opened`` leaves a lifted row, so the late opening restricts nothing. Caller commits."""
    row = db.get(AccountRestriction, case_id)
    if row is None:
        db.add(
            AccountRestriction(
                case_id=case_id, account_id=account.id, kind=kind, reason="", opened_at=now, lifted_at=now, lifted_by=by
            )
        )
        db.flush()
        return False
    if row.lifted_at is not None or row.account_id != account.id:
        return False
    row.lifted_at = now
    row.lifted_by = by
    return True


def start_lock(db: DbSession, account: Account, *, now: datetime, until: datetime, reason: str) -> str | None:
    """Lock the account until ``until`` unless a lock holds already; return the new case id.

    A conditional UPDATE, so two concurrent failures open one lock (and one case), not two. Only
    an account whose lasting state is active locks (standing's ``lock`` rule: active or restricted).
    """
    case_id = new_id()
    result = db.execute(
        update(Account)
        .where(
            Account.id == account.id,
            Account.state == AccountState.active,
            or_(Account.locked_until.is_(None), Account.locked_until <= now),
        )
        .values(
            locked_until=until,
            lock_case_id=case_id,
            lock_reason=reason,
            lock_count=Account.lock_count + 1,
            failed_step_ups=0,
        )
        .execution_options(synchronize_session=False)
    )
    won = rows_changed(result)
    db.refresh(account)
    return case_id if won == 1 else None
