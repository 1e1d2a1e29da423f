"""Freezing an account after an intrusion (story S5), the one way every actor freezes it.

The password is invalidated (nobody can sign in with it, owner or intruder), every session is
revoked and every outstanding reset token spent, and a password reset opens only after the
cool-down (or, with ``hold_reset``, only once staff open it). Orders and verification learn of
it through the outbox. What the freeze does to the account row is the state machine's
(:func:`services.auth.accounts.standing.freeze`); restrictions from open cases stay.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from mamori_common.contract import ACCOUNT_FROZEN, SESSION_COMPROMISED
from services.auth.accounts import standing
from services.auth.accounts.models import Account
from services.auth.audit.service import record
from services.auth.env import AuthEnv
from services.auth.messages.service import file_message
from services.auth.messages.templates import language_of, reset_held_text
from services.auth.request_context import RequestContext
from services.auth.resets.service import void_reset_tokens
from services.auth.sessions.models import Session
from services.auth.sessions.service import revoke_sessions


def freeze_account(
    db: DbSession,
    env: AuthEnv,
    account: Account,
    *,
    reason: str,
    actor: str,
    context: RequestContext,
    now: datetime,
    window_from: datetime | None = None,
    suspect_session_ids: Iterable[str] = (),
    hold_reset: bool = False,
    notify_to: str | None = None,
) -> str:
    """Freeze the account; return the intrusion case id. Caller commits.

    ``session.compromised`` names every session revoked and those opened inside the suspicious
    window (from ``window_from``, else the oldest revoked session, to now); ``account.frozen``
    carries the case id auth minted, so the case can be named at once. ``reason`` is shown to the
    customer (getMe, the freeze mail); ``actor`` is ``customer``, ``system`` or ``staff:<id>``.
    """
    case_id = uuid.uuid4().hex
    revoked = revoke_sessions(db, account.id, now=now, reason="account_frozen")
    if window_from is None:
        created = db.execute(select(Session.created_at).where(Session.id.in_(revoked))).scalars().all()
        window_from = min(created, default=now)
    opened_in_window = db.execute(
        select(Session.id).where(Session.account_id == account.id, Session.created_at >= window_from)
    ).scalars()
    suspects = set(suspect_session_ids) | set(opened_in_window)
    session_ids = sorted(set(revoked) | suspects)

    cool_down = timedelta(seconds=env.settings.reset_cooldown_after_freeze_seconds)
    standing.freeze(
        account, case_id=case_id, reason=reason, now=now, reset_opens_at=None if hold_reset else now + cool_down
    )
    voided = void_reset_tokens(db, account.id, now=now)
    opens_at = account.reset_opens_at.isoformat() if account.reset_opens_at else None

    env.outbox.publish(
        db,
        SESSION_COMPROMISED,
        {
            "account_id": account.id,
            "case_id": case_id,
            "session_ids": session_ids,
            "suspicious_session_ids": sorted(suspects),
            "window": {"from": window_from.isoformat(), "to": now.isoformat()},
        },
    )
    env.outbox.publish(
        db,
        ACCOUNT_FROZEN,
        {
            "case_id": case_id,
            "account_id": account.id,
            "kind": "intrusion",
            "reason": reason,
            "actor": actor,
            "frozen_at": now.isoformat(),
            "reset_opens_at": opens_at,
            "session_ids": session_ids,
        },
    )
    file_message(
        db,
        account,
        "account_frozen",
        {
            "reason": reason,
            "case_id": case_id,
            "reset_opens_at": account.reset_opens_at or reset_held_text(language_of(account.language)),
        },
        encryptor=env.encryptor,
        now=now,
        recipient=notify_to,
    )
    record(
        db,
        account.id,
        "account_frozen",
        context,
        at=now,
        actor=actor,
        reason=reason,
        details={
            "case_id": case_id,
            "sessions_revoked": len(revoked),
            "session_ids": session_ids,
            "reset_tokens_voided": voided,
            "reset_opens_at": opens_at,
        },
    )
    return case_id
