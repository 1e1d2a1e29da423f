"""Sessions, access tokens and refresh tokens.

Access tokens are EdDSA JWTs that live ten minutes and carry the session id; refresh tokens are
32 random bytes, stored as their SHA-256, and exchanged for a new one on every use. Presenting a
refresh token that was already exchanged means two parties hold it: the whole session ends, unless
it comes back within ``refresh_reuse_grace_seconds`` of its exchange (see :func:`in_reuse_grace`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session as DbSession

from mamori_common.db import rows_changed
from mamori_common.pagination import Page, PageRequest, Position, paginate
from mamori_common.tokens import AUDIENCE, ISSUER
from services.auth.accounts.models import Account
from services.auth.config import AuthSettings
from services.auth.request_context import RequestContext
from services.auth.sessions.models import RefreshToken, Session
from services.auth.sessions.revocations import announce
from services.auth.tokens.keys import SigningKey


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    token_type: str = "Bearer"
    #: A sign-in's new device token (``signin/devices.py``); None on a refresh.
    device_token: str | None = None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint_access_token(key: SigningKey, account: Account, session: Session, now: datetime, lifetime: int) -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": account.id,
        "sid": session.id,
        "role": account.role.value,
        "auth_time": int(session.authenticated_at.timestamp()),
        # How old the session is, for other services' rules (orders holds top-ups from young ones).
        "session_started_at": int(session.created_at.timestamp()),
        # The device auth recognised (its handle, which opens nothing): never what a client states.
        **({"device_id": session.device_id} if session.device_id else {}),
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + lifetime,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})


def successor_of(presented: str, key: bytes) -> str:
    """The refresh token that replaces ``presented``: an HMAC of it under a server-side key.

    Derived rather than random so that exchanging the same token twice within the grace window
    gives the same successor without keeping any token in clear. The key keeps it unguessable:
    a thief holding an old token cannot compute its successors without presenting it (and a
    presentation after the window ends the family).
    """
    digest = hmac.new(key, presented.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def in_reuse_grace(rotated_at: datetime, now: datetime, settings: AuthSettings) -> bool:
    """A token exchanged this recently, presented again, is a concurrent double refresh (two tabs,
    a retried request), not a thief: it gets the same successor instead of ending the session.

    After the window a second presentation still means two parties hold the token (RFC 9700 4.14).
    """
    return now - rotated_at <= timedelta(seconds=settings.refresh_reuse_grace_seconds)


def _new_refresh_token(
    db: DbSession, session: Session, now: datetime, settings: AuthSettings, token: str | None = None
) -> str:
    token = token or secrets.token_urlsafe(32)
    db.add(
        RefreshToken(
            session_id=session.id,
            token_hash=token_digest(token),
            issued_at=now,
            expires_at=now + timedelta(days=settings.refresh_token_days),
        )
    )
    return token


def start_session(
    db: DbSession,
    account: Account,
    context: RequestContext,
    *,
    now: datetime,
    key: SigningKey,
    settings: AuthSettings,
) -> TokenPair:
    """Open a session after the owner proved who they are; the caller commits."""
    session = Session(
        account_id=account.id,
        created_at=now,
        authenticated_at=now,
        last_seen_at=now,
        ip=context.ip,
        country=context.country,
        device_id=context.device_id,
        user_agent=context.user_agent,
    )
    db.add(session)
    db.flush()
    return issue_tokens(db, account, session, now=now, key=key, settings=settings)


def issue_tokens(
    db: DbSession,
    account: Account,
    session: Session,
    *,
    now: datetime,
    key: SigningKey,
    settings: AuthSettings,
    refresh_token: str | None = None,
) -> TokenPair:
    """A new access token and a new refresh token (``refresh_token`` when given, else random)."""
    refresh = _new_refresh_token(db, session, now, settings, refresh_token)
    return pair_with(account, session, refresh, now=now, key=key, settings=settings)


def pair_with(
    account: Account, session: Session, refresh: str, *, now: datetime, key: SigningKey, settings: AuthSettings
) -> TokenPair:
    """A fresh access token beside an existing refresh token."""
    access = mint_access_token(key, account, session, now, settings.access_token_seconds)
    return TokenPair(access, refresh, settings.access_token_seconds, session.id)


def revoke_sessions(
    db: DbSession, account_id: str, *, now: datetime, reason: str, keep_session_id: str | None = None
) -> list[str]:
    """End every live session of the account (but ``keep_session_id``); return the ids ended.

    One ``session.revoked`` event names them all, so their access tokens stop at every service."""
    query = select(Session.id).where(Session.account_id == account_id, Session.revoked_at.is_(None))
    if keep_session_id is not None:
        query = query.where(Session.id != keep_session_id)
    ids = list(db.execute(query).scalars())
    if ids:
        db.execute(update(Session).where(Session.id.in_(ids)).values(revoked_at=now, revoked_reason=reason))
        announce(db, account_id, ids, reason=reason, now=now)
    return ids


def find_refresh_token(db: DbSession, token: str) -> RefreshToken | None:
    """The stored row of a presented refresh token (looked up by its digest, never in clear)."""
    return db.execute(select(RefreshToken).where(RefreshToken.token_hash == token_digest(token))).scalar_one_or_none()


def claim_refresh_token(db: DbSession, token: RefreshToken, *, now: datetime) -> bool:
    """Mark ``token`` rotated, only if nobody did it first; False means it was already used.

    A conditional UPDATE (not a read then a write) so two concurrent uses of one token cannot
    both win: the database lets exactly one of them change the row.
    """
    result = db.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.rotated_at.is_(None))
        .values(rotated_at=now)
        .execution_options(synchronize_session=False)
    )
    claimed = rows_changed(result) == 1
    db.expire(token)
    return claimed


def revoke_session(db: DbSession, session: Session, *, now: datetime, reason: str) -> bool:
    """End one session (its whole refresh-token family with it); False if it had already ended.

    Conditional, like :func:`claim_refresh_token`, so the first reason to end a session is the one
    kept when two arrive at once (a reuse and a logout, say). Every other service hears of it
    (:func:`services.auth.sessions.revocations.announce`), as for :func:`revoke_sessions`.
    """
    session_id, account_id = session.id, session.account_id
    result = db.execute(
        update(Session)
        .where(Session.id == session_id, Session.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    db.expire(session)
    ended = rows_changed(result) == 1
    if ended:
        announce(db, account_id, [session_id], reason=reason, now=now)
    return ended


def live_sessions_page(db: DbSession, account_id: str, page: PageRequest, *, now: datetime) -> Page[Session]:
    """One page of the live sessions, newest first (by when they began: a session's last use
    moves, its start does not, so paging on stays stable)."""
    return paginate(
        db,
        _live(account_id, now),
        page=page,
        scope=f"listSessions:{account_id}",
        order=(Session.created_at, Session.id),
        key=lambda live: Position(live.created_at, live.id),
    )


def _live(account_id: str, now: datetime) -> Select[Session]:
    """Sessions that can still be used: not revoked, and holding an unused, unexpired refresh token."""
    usable = (
        select(RefreshToken.id)
        .where(
            RefreshToken.session_id == Session.id,
            RefreshToken.rotated_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .exists()
    )
    return select(Session).where(Session.account_id == account_id, Session.revoked_at.is_(None), usable)
