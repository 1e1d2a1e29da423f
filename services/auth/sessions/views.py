"""Routes: ``refreshToken``, ``logout``, ``listSessions``, ``revokeSessions``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status

from mamori_common.clock import ClockDep
from mamori_common.contract import REVOCATIONS_PATH, RevocationPage
from mamori_common.db import SessionDep
from mamori_common.pagination import PAGE_RESPONSES, PageDep
from mamori_common.problems import Problem
from mamori_common.service_auth import service_caller
from mamori_common.tokens import LEEWAY_SECONDS, AccessTokenVerifier, access_token_from
from services.auth.deps import (
    CurrentAccount,
    CurrentSession,
    EncryptorDep,
    RequestContextDep,
    SettingsDep,
    SigningKeyDep,
    current_session,
)
from services.auth.sessions import flows, revocations, service
from services.auth.sessions.models import Session
from services.auth.sessions.schemas import (
    LogoutRequest,
    RefreshRequest,
    RevokedSessions,
    RevokeSessionsRequest,
    SessionList,
    SessionView,
    TokenResponse,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])
internal_router = APIRouter(include_in_schema=False)


@router.post(
    "/tokens/refresh",
    operation_id="refreshToken",
    response_model=TokenResponse,
    summary="Exchange a refresh token for a new token pair (the old refresh token stops working)",
    description=(
        "No access token needed. 401 `invalid_refresh_token` for an unknown, expired or ended token; "
        "401 `refresh_token_reused` when the token was already exchanged (the session is then ended); "
        "401 `account_frozen` or 423 `account_locked` when the account may not sign in now."
    ),
)
def refresh_token(
    body: RefreshRequest,
    db: SessionDep,
    clock: ClockDep,
    context: RequestContextDep,
    key: SigningKeyDep,
    settings: SettingsDep,
    encryptor: EncryptorDep,
) -> TokenResponse:
    pair = flows.refresh(
        db, body.refresh_token, context=context, now=clock.now(), key=key, settings=settings, encryptor=encryptor
    )
    db.commit()
    return TokenResponse.from_pair(pair)


def _session_to_end(request: Request, db: SessionDep, clock: ClockDep, body: LogoutRequest | None) -> Session:
    """The session a logout ends: the access token's, else (an expired access token) the refresh token's."""
    access = access_token_from(request)
    presented = body.refresh_token if body is not None else None
    if access is None:
        if presented is None:
            raise Problem(401, "unauthenticated", "Send the access token or the refresh token of the session to end.")
        return flows.session_of_refresh_token(db, presented, now=clock.now())
    verifier: AccessTokenVerifier = request.app.state.token_verifier
    session = current_session(db, verifier.verify(access))
    if presented is not None:
        token = service.find_refresh_token(db, presented)
        if token is None or token.session_id != session.id:
            raise Problem(
                400, "refresh_token_mismatch", "This refresh token does not belong to the session signing out."
            )
    return session


@router.post(
    "/logout",
    operation_id="logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End the current session",
    description=(
        "Authenticated by the access token; a client whose access token has expired may send only "
        "`refresh_token` in the body. Every token of the session stops working."
    ),
)
def logout(
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    context: RequestContextDep,
    body: Annotated[LogoutRequest | None, Body()] = None,
) -> Response:
    session = _session_to_end(request, db, clock, body)
    flows.logout(db, session, context=context, now=clock.now())
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/sessions",
    operation_id="listSessions",
    response_model=SessionList,
    summary="Your live sessions, newest first, with where they came from; `current` marks this one",
    description="Paged: follow `next` with `cursor` (see `limit`).",
    responses=PAGE_RESPONSES,
)
def list_sessions(
    db: SessionDep, clock: ClockDep, account: CurrentAccount, session: CurrentSession, page: PageDep
) -> SessionList:
    live_page = service.live_sessions_page(db, account.id, page, now=clock.now())
    return SessionList(
        sessions=[
            SessionView(
                id=live.id,
                created_at=live.created_at,
                last_seen_at=live.last_seen_at,
                ip=live.ip,
                country=live.country,
                device_id=live.device_id,
                user_agent=live.user_agent,
                current=live.id == session.id,
            )
            for live in live_page.items
        ],
        next=live_page.next,
    )


@router.post(
    "/sessions/revoke",
    operation_id="revokeSessions",
    response_model=RevokedSessions,
    summary="End one of your sessions, or all but the current one",
    description="404 `session_not_found` for an id that is not one of your live sessions (nothing changes).",
)
def revoke_sessions(
    body: RevokeSessionsRequest,
    db: SessionDep,
    clock: ClockDep,
    context: RequestContextDep,
    account: CurrentAccount,
    session: CurrentSession,
) -> RevokedSessions:
    ended = flows.revoke(
        db,
        account,
        session,
        session_id=body.session_id,
        all_but_current=body.all_but_current,
        context=context,
        now=clock.now(),
    )
    db.commit()
    return RevokedSessions(revoked=ended)


#: Who may list ended sessions: the services that check access tokens and so pull them.
RevocationReader = Annotated[str, Depends(service_caller("orders", "verification"))]


@internal_router.get(REVOCATIONS_PATH, response_model=RevocationPage)
def list_revocations(
    caller: RevocationReader,
    db: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    since: Annotated[datetime | None, Query()] = None,
    after: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> RevocationPage:
    """Sessions ended after ``since`` (and, at that same time, after session ``after``), oldest
    first: every service's pull (``mamori_common/revocations.py``). Only sessions ended within an
    access token's life are listed: the tokens of older ones have expired anyway."""
    horizon = timedelta(seconds=settings.access_token_seconds + 2 * LEEWAY_SECONDS)
    return revocations.ended_since(db, since, after, now=clock.now(), horizon=horizon)
