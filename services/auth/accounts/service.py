"""Plain data functions on accounts."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from mamori_common.problems import Problem
from services.auth.accounts.models import Account, Language, Role
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
