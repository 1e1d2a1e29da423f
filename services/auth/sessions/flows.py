"""Orchestration of the session routes: refresh with reuse detection, logout, revoking sessions.

Refresh tokens follow the OAuth 2.0 Security BCP (RFC 9700, 4.14): each is exchanged once. A token
presented after it was exchanged means two parties hold it (the owner and a thief, and we cannot
tell which one is asking), so the whole session ends, the reuse goes to the audit trail and the
customer gets a message. The one exception is a grace window of ``refresh_reuse_grace_seconds``
after the exchange: two tabs refreshing at once, or a retried request, get the same successor
(derived from the token, :func:`services.auth.sessions.service.successor_of`) and nothing ends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session as DbSession

from mamori_common.problems import Problem
from services.auth.accounts.models import Account, AccountState
from services.auth.accounts.standing import standing_of
from services.auth.audit.service import record
from services.auth.config import AuthSettings
from services.auth.credentials.encryption import Encryptor
from services.auth.messages.service import file_message
from services.auth.request_context import RequestContext
from services.auth.sessions import service
from services.auth.sessions.models import Session
from services.auth.sessions.service import TokenPair
from services.auth.tokens.keys import SigningKey

REUSED = "refresh_token_reused"


def invalid_refresh_token() -> Problem:
    return Problem(401, "invalid_refresh_token", "This refresh token is unknown, expired or ended. Sign in again.")


def reused() -> Problem:
    return Problem(
        401,
        REUSED,
        "This refresh token was already used, so someone else may hold it: we ended the session. Sign in again.",
    )


def account_refusal(account: Account | None, now: datetime) -> Problem | None:
    """Why this account may not get fresh tokens now, or None (its standing decides: a restricted
    account signs in; restrictions never change this answer, so they are not read)."""
    current = standing_of(account, (), now=now) if account is not None else None
    if current is None or current.state is AccountState.closed:
        return invalid_refresh_token()
    if current.state is AccountState.frozen:
        return Problem(
            401,
            "account_frozen",
            "This account is frozen to protect it. Follow the mail we sent to recover it.",
            case_id=current.case_id,
            case_number=current.case_number,
            reset_opens_at=account.reset_opens_at.isoformat() if account and account.reset_opens_at else None,
        )
    if current.state is AccountState.locked:
        return Problem(
            423,
            "account_locked",
            "This account is temporarily locked. Unlock it with a mailed code and a new password.",
            case_id=current.case_id,
            case_number=current.case_number,
            locked_until=current.locked_until.isoformat() if current.locked_until else None,
            unlock="requestUnlock",
        )
    return None


def refresh(
    db: DbSession,
    presented: str,
    *,
    context: RequestContext,
    now: datetime,
    key: SigningKey,
    settings: AuthSettings,
    encryptor: Encryptor,
) -> TokenPair:
    """Exchange a refresh token for a new pair in the same session; the caller commits on success.

    On reuse this commits the revocation itself before raising, because the request fails but the
    session must stay ended.
    """
    token = service.find_refresh_token(db, presented)
    if token is None:
        raise invalid_refresh_token()
    session = db.get(Session, token.session_id)
    if session is None or session.revoked_at is not None:
        raise invalid_refresh_token()
    if token.expires_at <= now:
        raise invalid_refresh_token()
    account = db.get(Account, session.account_id)
    refusal = account_refusal(account, now)
    if refusal is not None:
        raise refusal
    assert account is not None
    successor = service.successor_of(presented, encryptor.derive_key(SUCCESSOR_KEY_PURPOSE))
    if token.rotated_at is None and service.claim_refresh_token(db, token, now=now):
        session.last_seen_at = now
        return service.issue_tokens(db, account, session, now=now, key=key, settings=settings, refresh_token=successor)
    # Exchanged before, or by a concurrent request between our read and our write.
    db.rollback()
    again = _grace_pair(db, presented, successor, now=now, key=key, settings=settings)
    if again is not None:
        return again
    _end_reused_session(db, session, context=context, now=now, encryptor=encryptor)
    raise reused()


#: What the key deriving refresh-token successors is for (one key, one purpose).
SUCCESSOR_KEY_PURPOSE = b"refresh-token-successors"


def _grace_pair(
    db: DbSession, presented: str, successor: str, *, now: datetime, key: SigningKey, settings: AuthSettings
) -> TokenPair | None:
    """The pair for a token exchanged within the grace window: its successor, if still unused.

    Read afresh (after the rollback) so a concurrent exchange that just committed is seen.
    """
    token = service.find_refresh_token(db, presented)
    if token is None or token.rotated_at is None or not service.in_reuse_grace(token.rotated_at, now, settings):
        return None
    following = service.find_refresh_token(db, successor)
    if following is None or following.rotated_at is not None or following.session_id != token.session_id:
        return None
    session = db.get(Session, token.session_id)
    account = db.get(Account, session.account_id) if session is not None else None
    if session is None or session.revoked_at is not None or account is None:
        return None
    return service.pair_with(account, session, successor, now=now, key=key, settings=settings)


def _end_reused_session(
    db: DbSession, session: Session, *, context: RequestContext, now: datetime, encryptor: Encryptor
) -> None:
    if not service.revoke_session(db, session, now=now, reason=REUSED):
        db.rollback()  # ended meanwhile by a concurrent request; it did the telling
        return
    record(db, session.account_id, REUSED, context, at=now, details={"session_id": session.id})
    account = db.get(Account, session.account_id)
    if account is not None:
        device = session.user_agent or session.device_id or session.ip or "-"
        file_message(
            db,
            account,
            "refresh_token_reused",
            {"at": now, "device": device[:80]},
            encryptor=encryptor,
            now=now,
        )
    db.commit()


def logout(db: DbSession, session: Session, *, context: RequestContext, now: datetime) -> None:
    """End the caller's session; the caller commits."""
    if service.revoke_session(db, session, now=now, reason="logout"):
        record(db, session.account_id, "logout", context, at=now, details={"session_id": session.id})


def session_of_refresh_token(db: DbSession, presented: str, *, now: datetime) -> Session:
    """The live session a still-usable refresh token belongs to (logout without an access token)."""
    token = service.find_refresh_token(db, presented)
    if token is None or token.rotated_at is not None or token.expires_at <= now:
        raise invalid_refresh_token()
    session = db.get(Session, token.session_id)
    if session is None or session.revoked_at is not None:
        raise invalid_refresh_token()
    return session


def revoke(
    db: DbSession,
    account: Account,
    current: Session,
    *,
    session_id: str | None,
    all_but_current: bool,
    context: RequestContext,
    now: datetime,
) -> list[str]:
    """End one of the caller's own sessions, or all but the current one; return the ids ended.

    Another account's session id answers 404 like an unknown one, so ids cannot be probed.
    """
    if session_id is not None:
        target = db.get(Session, session_id)
        if target is None or target.account_id != account.id or target.revoked_at is not None:
            raise Problem(404, "session_not_found", "You have no live session with this id.")
        ended = [target.id] if service.revoke_session(db, target, now=now, reason="revoked_by_owner") else []
    elif all_but_current:
        ended = service.revoke_sessions(db, account.id, now=now, reason="revoked_by_owner", keep_session_id=current.id)
    else:  # the request schema already refuses this; kept so the function is safe on its own
        raise Problem(422, "validation_error", "Name a session_id or set all_but_current.")
    if ended:
        record(
            db,
            account.id,
            "sessions_revoked",
            context,
            at=now,
            details={"session_ids": ended, "by_session_id": current.id, "all_but_current": all_but_current},
        )
    return ended
