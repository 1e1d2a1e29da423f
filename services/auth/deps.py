"""Typed dependencies of the auth routes (the full-stack-fastapi-template way): thin routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session as DbSession

from mamori_common.card_numbers import mask_card_numbers
from mamori_common.clock import ClockDep
from mamori_common.db import SessionDep
from mamori_common.network import resolve_client_ip
from mamori_common.problems import Problem
from mamori_common.tokens import CurrentPrincipal, Principal
from services.auth.accounts.models import Account, AccountState
from services.auth.config import AuthSettings
from services.auth.credentials.codes import CodeHasher
from services.auth.credentials.encryption import Encryptor
from services.auth.credentials.passwords import Passwords
from services.auth.request_context import RequestContext, country_of
from services.auth.sessions.models import Session
from services.auth.signin import devices
from services.auth.tokens.keys import SigningKey


def get_settings(request: Request) -> AuthSettings:
    return request.app.state.settings


def get_passwords(request: Request) -> Passwords:
    return request.app.state.passwords


def get_signing_key(request: Request) -> SigningKey:
    return request.app.state.signing_key


def get_encryptor(request: Request) -> Encryptor:
    return request.app.state.encryptor


def get_code_hasher(request: Request) -> CodeHasher:
    return request.app.state.code_hasher


SettingsDep = Annotated[AuthSettings, Depends(get_settings)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
SigningKeyDep = Annotated[SigningKey, Depends(get_signing_key)]
EncryptorDep = Annotated[Encryptor, Depends(get_encryptor)]
CodeHasherDep = Annotated[CodeHasher, Depends(get_code_hasher)]


def client_ip(request: Request) -> str:
    settings: AuthSettings = request.app.state.settings
    peer = request.client.host if request.client else None
    return resolve_client_ip(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxies)


ClientIp = Annotated[str, Depends(client_ip)]


def request_context(request: Request, ip: ClientIp) -> RequestContext:
    """Risk signals of this request: address, country (offline database), user agent, and the
    device token it presents (``X-Device-Token``, or the portal's cookie).

    The context names no device yet: only :func:`services.auth.signin.devices.recognised` does,
    once the token proves to be the one auth last issued (``SignInContextDep``). A device id the
    client merely states (the old ``X-Device-ID``) is not read at all.
    """
    token = request.headers.get(devices.TOKEN_HEADER) or request.cookies.get(devices.TOKEN_COOKIE)
    return RequestContext(
        ip=ip,
        country=country_of(ip),
        user_agent=mask_card_numbers((request.headers.get("user-agent") or "")[:512]) or None,  # kept, listed
        device_token=token[: devices.MAX_TOKEN_LENGTH + 1] if token else None,
    )


RequestContextDep = Annotated[RequestContext, Depends(request_context)]


def sign_in_context(request: Request, db: SessionDep, context: RequestContextDep) -> RequestContext:
    """The request context of a sign-in route, naming its device when the token is recognised."""
    return devices.recognised(db, devices.signer_of(request.app.state.encryptor), context)


SignInContextDep = Annotated[RequestContext, Depends(sign_in_context)]


def _active_session(db: DbSession, principal: Principal) -> Session:
    session = db.get(Session, principal.session_id)
    if session is None or session.revoked_at is not None or session.account_id != principal.account_id:
        raise Problem(401, "session_revoked", "This session has ended. Sign in again.")
    return session


def current_session(db: SessionDep, principal: CurrentPrincipal) -> Session:
    """The caller's session, which must still be live (a revoked session's token stops at once here)."""
    return _active_session(db, principal)


def current_account(db: SessionDep, session: Annotated[Session, Depends(current_session)]) -> Account:
    account = db.get(Account, session.account_id)
    if account is None or account.state is AccountState.closed:
        raise Problem(401, "session_revoked", "This account is closed.")
    return account


CurrentSession = Annotated[Session, Depends(current_session)]
CurrentAccount = Annotated[Account, Depends(current_account)]


def require_recent_sign_in(session: CurrentSession, settings: SettingsDep, clock: ClockDep) -> Session:
    """Sensitive changes (e-mail, password, TOTP) need a sign-in within the last few minutes."""
    age = (clock.now() - session.authenticated_at).total_seconds()
    if age > settings.reauthentication_window_seconds:
        raise Problem(
            401,
            "reauthentication_required",
            "Sign in again to make this change: your last sign-in is too long ago.",
        )
    return session


RecentSession = Annotated[Session, Depends(require_recent_sign_in)]


def staff_role_guard(*roles: str) -> Callable[[Account], Account]:
    """A dependency: the caller's live account must hold one of ``roles``."""

    def check(account: CurrentAccount) -> Account:
        if account.role.value not in roles:
            raise Problem(403, "forbidden", f"This operation is for {', '.join(roles)} staff only.")
        return account

    return check
