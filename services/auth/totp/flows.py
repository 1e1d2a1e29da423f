"""Orchestration of the TOTP routes: enrol, confirm (recovery codes), disable.

A secret is pending (stored encrypted, ``totp_enabled_at`` NULL) until a code from the app proves
the customer copied it; only then is it used for sign-in. Enabling and disabling are sensitive
changes: they need a recent sign-in (the routes' ``RecentSession``), land in the audit trail, and
notify the customer with a revert code.

Wrong codes are recorded in the audit trail (``totp_code_rejected``, which the customer sees) and
limited per account (:func:`services.auth.quotas.totp_code_failures`), so a stolen session cannot try its way through a million codes to disable TOTP.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session as DbSession

from mamori_common.problems import KeptRefusal, Problem
from mamori_common.quotas import rate_limited
from services.auth import quotas
from services.auth.accounts.models import Account
from services.auth.accounts.service import standing_for
from services.auth.accounts.standing import Capability, ensure_may
from services.auth.audit.service import record
from services.auth.changes.flows import notify_change
from services.auth.changes.models import ChangeKind
from services.auth.env import AuthEnv
from services.auth.request_context import RequestContext
from services.auth.sessions.models import Session
from services.auth.totp import service

CODE_REJECTED = "totp_code_rejected"


def _may_change_totp(db: DbSession, account: Account, now: datetime) -> None:
    """The account's standing decides (a restricted or locked one may not; a lock that ran out may)."""
    ensure_may(standing_for(db, account, now=now), Capability.change_totp)


def _refuse_when_too_many_wrong_codes(env: AuthEnv, account: Account) -> None:
    wait = env.quotas.wait(quotas.totp_code_failures(env.settings), account.id)
    if wait:
        raise rate_limited(wait, "Too many wrong codes. Wait before trying again.")


def _reject(
    db: DbSession, env: AuthEnv, account: Account, *, context: RequestContext, now: datetime, purpose: str
) -> KeptRefusal:
    """Count and record the wrong code (kept, though the request fails) and build the answer."""
    db.rollback()
    env.quotas.add(quotas.totp_code_failures(env.settings), account.id)
    record(db, account.id, CODE_REJECTED, context, at=now, details={"purpose": purpose})
    return KeptRefusal(
        403, "invalid_code", "This code is not valid. Enter the current code from your authenticator app."
    )


def enroll(db: DbSession, env: AuthEnv, account: Account, *, context: RequestContext) -> tuple[str, str]:
    """Store a new pending secret (replacing a pending one); return it and its otpauth URI. Caller commits."""
    now = env.clock.now()
    _may_change_totp(db, account, now)
    if account.totp_enabled:
        raise Problem(409, "totp_already_enabled", "TOTP is already on. Turn it off first to move it to a new app.")
    secret = service.new_secret()
    account.totp_secret_encrypted = env.encryptor.encrypt(secret)
    account.totp_last_step = None
    record(db, account.id, "totp_enrollment_started", context, at=now)
    return secret, service.provisioning_uri(secret, account_name=account.email, issuer=env.settings.totp_issuer)


def confirm(
    db: DbSession, env: AuthEnv, account: Account, code: str, *, session: Session, context: RequestContext
) -> list[str]:
    """Turn TOTP on with a code of the pending secret; return fresh recovery codes. Caller commits."""
    now = env.clock.now()
    _may_change_totp(db, account, now)
    if account.totp_enabled:
        raise Problem(409, "totp_already_enabled", "TOTP is already on.")
    if account.totp_secret_encrypted is None:
        raise Problem(409, "totp_not_enrolled", "Start with enrollTotp: there is no secret to confirm.")
    _refuse_when_too_many_wrong_codes(env, account)
    step = service.matching_step(env.encryptor.decrypt(account.totp_secret_encrypted), code, now=now)
    # The confirming code counts as used, so it cannot pass a step-up a moment later.
    if step is None or not service.record_step(db, account, step):
        raise _reject(db, env, account, context=context, now=now, purpose="confirm")
    account.totp_enabled_at = now
    codes = service.replace_recovery_codes(db, account, count=env.settings.recovery_code_count, now=now)
    record(db, account.id, "totp_enabled", context, at=now, details={"session_id": session.id})
    _notify(
        db, env, account, old_secret=None, old_enabled_at=None, enabled=True, context=context, session=session, now=now
    )
    return codes


def disable(
    db: DbSession, env: AuthEnv, account: Account, code: str, *, session: Session, context: RequestContext
) -> None:
    """Turn TOTP off, proven by a current TOTP code or a recovery code. Caller commits."""
    now = env.clock.now()
    _may_change_totp(db, account, now)
    if not account.totp_enabled:
        raise Problem(409, "totp_not_enabled", "TOTP is not on.")
    _refuse_when_too_many_wrong_codes(env, account)
    proven = service.check_totp(db, account, code, encryptor=env.encryptor, now=now) or service.use_recovery_code(
        db, account, code, now=now
    )
    if not proven:
        raise _reject(db, env, account, context=context, now=now, purpose="disable")
    previous = account.totp_secret_encrypted
    previous_enabled_at = account.totp_enabled_at
    account.totp_secret_encrypted = None
    account.totp_enabled_at = None
    account.totp_last_step = None
    if not account.passkey_required:  # with "passkey required" they are the way in without the passkey
        service.delete_recovery_codes(db, account)
    record(db, account.id, "totp_disabled", context, at=now, details={"session_id": session.id})
    _notify(
        db,
        env,
        account,
        old_secret=previous,
        old_enabled_at=previous_enabled_at,
        enabled=False,
        context=context,
        session=session,
        now=now,
    )


def _notify(
    db: DbSession,
    env: AuthEnv,
    account: Account,
    *,
    old_secret: str | None,
    old_enabled_at: datetime | None,
    enabled: bool,
    context: RequestContext,
    session: Session,
    now: datetime,
) -> None:
    """Tell the registered address, with a revert code (story S5): TOTP is a credential.

    A revert restores ``old_value``: TOTP off after an enabling, the old secret after a disabling.
    """
    old_value: dict[str, object] = {"totp_secret_encrypted": old_secret}
    if old_enabled_at is not None:
        old_value["totp_enabled_at"] = old_enabled_at.isoformat()
    notify_change(
        db,
        env,
        account,
        ChangeKind.totp,
        old_value=old_value,
        new_value={"totp_enabled": enabled},
        context=context,
        session_id=session.id,
        now=now,
    )
