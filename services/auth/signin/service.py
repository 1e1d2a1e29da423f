"""Plain data functions of the signin domain: attempts, devices, failure counts, locks.

Counters on the account row change with one ``UPDATE ... SET n = n + 1`` each, never by reading
and writing back, so two concurrent failures are both counted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session as DbSession

from services.auth.accounts.models import Account, AccountState, new_id
from services.auth.audit.models import SecurityEvent
from services.auth.audit.service import RequestContext
from services.auth.signin.models import Challenge, ChallengePurpose, KnownDevice, SignInAttempt, SignInOutcome

#: Audit kinds written by this domain.
SIGNED_IN = "signed_in"
ACCOUNT_LOCKED = "account_locked"
ACCOUNT_UNLOCKED = "account_unlocked"


def record_attempt(
    db: DbSession,
    account_id: str | None,
    outcome: SignInOutcome,
    context: RequestContext,
    *,
    now: datetime,
    signals: dict[str, Any] | None = None,
) -> None:
    """One row per attempt (a plain INSERT: this runs on every sign-in, so it stays cheap)."""
    db.execute(
        insert(SignInAttempt).values(
            account_id=account_id,
            at=now,
            outcome=outcome,
            ip=context.ip,
            country=context.country,
            device_id=context.device_id,
            user_agent=context.user_agent,
            signals=signals or {},
        )
    )


def remember_device(db: DbSession, account_id: str, context: RequestContext, *, now: datetime) -> None:
    """The device passed every check: later sign-ins from it are not "new device" any more."""
    if not context.device_id:
        return
    seen = {"last_seen_at": now, "last_ip": context.ip, "last_country": context.country}
    updated = db.execute(
        update(KnownDevice)
        .where(KnownDevice.account_id == account_id, KnownDevice.device_id == context.device_id)
        .values(**seen)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not updated:
        db.execute(
            insert(KnownDevice).values(account_id=account_id, device_id=context.device_id, first_seen_at=now, **seen)
        )


def count_failed_password(db: DbSession, account_id: str) -> int:
    """One more consecutive failure; returns the streak."""
    return int(
        db.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(failure_streak=Account.failure_streak + 1)
            .returning(Account.failure_streak)
            .execution_options(synchronize_session=False)
        ).scalar_one()
    )


def count_failed_step_up(db: DbSession, account_id: str) -> int:
    """One more wrong step-up answer (also a consecutive failure); returns the failed step-ups."""
    return int(
        db.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(failed_step_ups=Account.failed_step_ups + 1, failure_streak=Account.failure_streak + 1)
            .returning(Account.failed_step_ups)
            .execution_options(synchronize_session=False)
        ).scalar_one()
    )


def clear_failures(account: Account, *, now: datetime) -> None:
    """A sign-in passed every check: streaks start over, and a lock that ran out is tidied away."""
    account.failure_streak = 0
    account.failed_step_ups = 0
    account.lock_count = 0
    if account.locked_until is not None and account.locked_until <= now:
        end_lock(account)


def end_lock(account: Account) -> None:
    account.locked_until = None
    if account.state is AccountState.locked:
        account.state = AccountState.active
        account.state_reason = None
        account.state_case_id = None


def start_lock(db: DbSession, account: Account, *, now: datetime, until: datetime, reason: str) -> str | None:
    """Lock the account until ``until`` unless a lock holds already; return the new case id.

    A conditional UPDATE, so two concurrent failures open one lock (and one case), not two.
    A restricted account stays restricted (its verification case stays its state case); the lock
    is then its ``locked_until`` alone, and its case id is found in the audit trail.
    """
    case_id = new_id()
    won = db.execute(
        update(Account)
        .where(Account.id == account.id, or_(Account.locked_until.is_(None), Account.locked_until <= now))
        .values(locked_until=until, lock_count=Account.lock_count + 1, failed_step_ups=0)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    db.refresh(account)
    if won != 1:
        return None
    if account.state in (AccountState.active, AccountState.locked):
        account.state = AccountState.locked
        account.state_case_id = case_id
        account.state_reason = reason
    return case_id


def lock_case_id(db: DbSession, account: Account) -> str | None:
    """The case a lock opened (see :func:`start_lock` for why it may not be the state case)."""
    if account.state is AccountState.locked and account.state_case_id:
        return account.state_case_id
    event = db.execute(
        select(SecurityEvent)
        .where(SecurityEvent.account_id == account.id, SecurityEvent.kind == ACCOUNT_LOCKED)
        .order_by(SecurityEvent.at.desc(), SecurityEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    case_id = event.details.get("case_id") if event is not None else None
    return str(case_id) if case_id else None


def live_unlock_challenges(db: DbSession, account_id: str, *, now: datetime, limit: int = 10) -> list[Challenge]:
    """Unlock codes that can still be used, newest first: any of them unlocks the account."""
    return list(
        db.execute(
            select(Challenge)
            .where(
                Challenge.account_id == account_id,
                Challenge.purpose == ChallengePurpose.unlock,
                Challenge.consumed_at.is_(None),
                Challenge.expires_at > now,
                Challenge.attempts < Challenge.max_attempts,
            )
            .order_by(Challenge.created_at.desc())
            .limit(limit)
        ).scalars()
    )
