"""Plain data functions of the signin domain: attempts, devices, failure counts.

Counters on the account row change with one ``UPDATE ... SET n = n + 1`` each, never by reading
and writing back, so two concurrent failures are both counted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as DbSession

from mamori_common.db import rows_changed
from services.auth.accounts import standing
from services.auth.accounts.models import Account
from services.auth.request_context import RequestContext
from services.auth.signin.models import (
    Challenge,
    ChallengePurpose,
    KnownDevice,
    SignInAttempt,
    SignInOutcome,
    UnknownAddressStreak,
)
from services.auth.signin.risk import SUCCESSES

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
    result = db.execute(
        update(KnownDevice)
        .where(KnownDevice.account_id == account_id, KnownDevice.device_id == context.device_id)
        .values(**seen)
        .execution_options(synchronize_session=False)
    )
    if not rows_changed(result):
        db.execute(
            insert(KnownDevice).values(account_id=account_id, device_id=context.device_id, first_seen_at=now, **seen)
        )


#: Outcomes that are a failure of someone trying to sign in.
FAILURES = (SignInOutcome.bad_credentials, SignInOutcome.challenge_failed)


def foreign_failures_since_success(db: DbSession, account_id: str, *, since: datetime, enough: int) -> int:
    """The account's failed attempts from clients it did not know, after ``since`` and after its
    last successful sign-in, counted up to ``enough``: the durable record the throttle's Redis
    count ("under attack") falls back to when Redis is down.

    Reads at most ``enough`` recent failures and one success probe, through the (account, time)
    index, however long the history is."""
    last_success = db.execute(  # ids, not times: attempts in the same instant keep their order
        select(SignInAttempt.id)
        .where(SignInAttempt.account_id == account_id, SignInAttempt.outcome.in_(SUCCESSES))
        .order_by(SignInAttempt.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    rows = db.execute(
        select(SignInAttempt.signals)
        .where(
            SignInAttempt.account_id == account_id,
            SignInAttempt.at >= since,
            SignInAttempt.id > (last_success or 0),
            SignInAttempt.outcome.in_(FAILURES),
        )
        .order_by(SignInAttempt.id.desc())
        .limit(enough * 4)
    ).scalars()
    return min(enough, sum(1 for signals in rows if not (signals or {}).get("known_client")))


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


def unknown_address_failures(db: DbSession, key: str) -> int:
    """Consecutive failed sign-ins to the address no account has, under its digest ``key``."""
    return int(
        db.execute(select(UnknownAddressStreak.failures).where(UnknownAddressStreak.key == key)).scalar_one_or_none()
        or 0
    )


def count_unknown_address_failure(db: DbSession, key: str, *, now: datetime) -> None:
    """One more failure to an unknown address: an upsert, so concurrent failures are all counted."""
    upsert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = upsert(UnknownAddressStreak).values(key=key, failures=1, updated_at=now)
    db.execute(
        statement.on_conflict_do_update(
            index_elements=[UnknownAddressStreak.key],
            set_={"failures": UnknownAddressStreak.failures + 1, "updated_at": now},
        )
    )


def clear_failures(account: Account, *, now: datetime) -> None:
    """A sign-in passed every check: streaks start over, a lock that ran out is tidied away, and a
    step-up another service asked for has been given."""
    standing.clear_step_up_failures(account)
    account.lock_count = 0
    account.step_up_reason = None
    account.step_up_case_id = None
    if account.locked_until is not None and not standing.lock_in_force(account, now):
        standing.end_lock(account)


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


def note_reset_proof(db: DbSession, account_id: str, context: RequestContext, *, now: datetime, seconds: int) -> None:
    """A password reset was done from ``context``: the mailbox is proven there for ``seconds``."""
    db.add(
        Challenge(
            account_id=account_id,
            purpose=ChallengePurpose.reset_proof,
            methods=[],
            created_at=now,
            expires_at=now + timedelta(seconds=seconds),
            attempts=0,
            max_attempts=0,
            context={"ip": context.ip, "device_id": context.device_id},
        )
    )


def has_reset_proof(db: DbSession, account_id: str, context: RequestContext, *, now: datetime) -> bool:
    """Whether a password reset made from this client (its address or its device) is still fresh."""
    rows = db.execute(
        select(Challenge.context).where(
            Challenge.account_id == account_id,
            Challenge.purpose == ChallengePurpose.reset_proof,
            Challenge.consumed_at.is_(None),
            Challenge.expires_at > now,
        )
    ).scalars()
    return any(
        row.get("ip") == context.ip or (context.device_id is not None and row.get("device_id") == context.device_id)
        for row in rows
    )


def spend_reset_proofs(db: DbSession, account_id: str, *, now: datetime) -> None:
    """A sign-in was admitted: the resets that proved the mailbox have served."""
    db.execute(
        update(Challenge)
        .where(
            Challenge.account_id == account_id,
            Challenge.purpose == ChallengePurpose.reset_proof,
            Challenge.consumed_at.is_(None),
        )
        .values(consumed_at=now)
        .execution_options(synchronize_session=False)
    )
