"""Orchestration of the TOTP routes: enrol, confirm (recovery codes), disable.

A secret is pending (stored encrypted, ``totp_enabled_at`` NULL) until a code from the app proves
the customer copied it; only then is it used for sign-in. Enabling and disabling are sensitive
changes: they need a recent sign-in (the routes' ``RecentSession``), land in the audit trail, and
notify the customer with a revert code.

Wrong codes are counted in the audit trail (``totp_code_rejected``, which the customer sees) and
limited per account, so a stolen session cannot try its way through a million codes to disable TOTP.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from mamori_common.problems import Problem
from services.auth.accounts.models import Account
from services.auth.accounts.service import standing_for
from services.auth.accounts.standing import Capability, ensure_may
from services.auth.audit.models import SecurityEvent
from services.auth.audit.service import RequestContext, record
from services.auth.changes.flows import notify_change
from services.auth.changes.models import ChangeKind
from services.auth.config import AuthSettings
from services.auth.credentials.encryption import Encryptor
from services.auth.sessions.models import Session
from services.auth.totp import service

CODE_REJECTED = "totp_code_rejected"


def _may_change_totp(db: DbSession, account: Account, now: datetime) -> None:
    """The account's standing decides (a restricted or locked one may not; a lock that ran out may)."""
    ensure_may(standing_for(db, account, now=now), Capability.change_totp)


def _refuse_when_too_many_wrong_codes(
    db: DbSession, account: Account, *, now: datetime, settings: AuthSettings
) -> None:
    since = now - timedelta(seconds=settings.totp_code_failure_window_seconds)
    count, oldest = db.execute(
        select(func.count(), func.min(SecurityEvent.at)).where(
            SecurityEvent.account_id == account.id, SecurityEvent.kind == CODE_REJECTED, SecurityEvent.at > since
        )
    ).one()
    if count >= settings.totp_code_failures_per_window:
        retry_after = max(1, int((oldest - since).total_seconds()) + 1)
        raise Problem(
            429,
            "rate_limited",
            "Too many wrong codes. Wait before trying again.",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )


def _reject(db: DbSession, account: Account, *, context: RequestContext, now: datetime, purpose: str) -> Problem:
    """Record the wrong code (committed, since the request fails) and build the answer."""
    db.rollback()
    record(db, account.id, CODE_REJECTED, context, at=now, details={"purpose": purpose})
    db.commit()
    return Problem(422, "invalid_code", "This code is not valid. Enter the current code from your authenticator app.")


def enroll(
    db: DbSession,
    account: Account,
    *,
    context: RequestContext,
    now: datetime,
    settings: AuthSettings,
    encryptor: Encryptor,
) -> tuple[str, str]:
    """Store a new pending secret (replacing a pending one); return it and its otpauth URI. Caller commits."""
    _may_change_totp(db, account, now)
    if account.totp_enabled:
        raise Problem(409, "totp_already_enabled", "TOTP is already on. Turn it off first to move it to a new app.")
    secret = service.new_secret()
    account.totp_secret_encrypted = encryptor.encrypt(secret)
    account.totp_last_step = None
    record(db, account.id, "totp_enrollment_started", context, at=now)
    return secret, service.provisioning_uri(secret, account_name=account.email, issuer=settings.totp_issuer)


def confirm(
    db: DbSession,
    account: Account,
    code: str,
    *,
    session: Session,
    context: RequestContext,
    now: datetime,
    settings: AuthSettings,
    encryptor: Encryptor,
) -> list[str]:
    """Turn TOTP on with a code of the pending secret; return fresh recovery codes. Caller commits."""
    _may_change_totp(db, account, now)
    if account.totp_enabled:
        raise Problem(409, "totp_already_enabled", "TOTP is already on.")
    if account.totp_secret_encrypted is None:
        raise Problem(409, "totp_not_enrolled", "Start with enrollTotp: there is no secret to confirm.")
    _refuse_when_too_many_wrong_codes(db, account, now=now, settings=settings)
    step = service.matching_step(encryptor.decrypt(account.totp_secret_encrypted), code, now=now)
    # The confirming code counts as used, so it cannot pass a step-up a moment later.
    if step is None or not service.record_step(db, account, step):
        raise _reject(db, account, context=context, now=now, purpose="confirm")
    account.totp_enabled_at = now
    codes = service.replace_recovery_codes(db, account, count=settings.recovery_code_count, now=now)
    record(db, account.id, "totp_enabled", context, at=now, details={"session_id": session.id})
    _notify(
        db, account, old_secret=None, old_enabled_at=None, enabled=True,
        context=context, session=session, now=now, settings=settings, encryptor=encryptor,
    )
    return codes


def disable(
    db: DbSession,
    account: Account,
    code: str,
    *,
    session: Session,
    context: RequestContext,
    now: datetime,
    settings: AuthSettings,
    encryptor: Encryptor,
) -> None:
    """Turn TOTP off, proven by a current TOTP code or a recovery code. Caller commits."""
    _may_change_totp(db, account, now)
    if not account.totp_enabled:
        raise Problem(409, "totp_not_enabled", "TOTP is not on.")
    _refuse_when_too_many_wrong_codes(db, account, now=now, settings=settings)
    proven = service.check_totp(db, account, code, encryptor=encryptor, now=now) or service.use_recovery_code(
        db, account, code, now=now
    )
    if not proven:
        raise _reject(db, account, context=context, now=now, purpose="disable")
    previous = account.totp_secret_encrypted
    previous_enabled_at = account.totp_enabled_at
    account.totp_secret_encrypted = None
    account.totp_enabled_at = None
    account.totp_last_step = None
    service.delete_recovery_codes(db, account)
    record(db, account.id, "totp_disabled", context, at=now, details={"session_id": session.id})
    _notify(
        db, account, old_secret=previous, old_enabled_at=previous_enabled_at, enabled=False,
        context=context, session=session, now=now, settings=settings, encryptor=encryptor,
    )


def _notify(
    db: DbSession,
    account: Account,
    *,
    old_secret: str | None,
    old_enabled_at: datetime | None,
    enabled: bool,
    context: RequestContext,
    session: Session,
    now: datetime,
    settings: AuthSettings,
    encryptor: Encryptor,
) -> None:
    """Tell the registered address, with a revert code (story S5): TOTP is a credential.

    A revert restores ``old_value``: TOTP off after an enabling, the old secret after a disabling.
    """
    old_value: dict[str, object] = {"totp_secret_encrypted": old_secret}
    if old_enabled_at is not None:
        old_value["totp_enabled_at"] = old_enabled_at.isoformat()
    notify_change(
        db,
        account,
        ChangeKind.totp,
        old_value=old_value,
        new_value={"totp_enabled": enabled},
        context=context,
        session_id=session.id,
        now=now,
        settings=settings,
        encryptor=encryptor,
    )
