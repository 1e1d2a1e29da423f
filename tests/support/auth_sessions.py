"""Helpers of the session and TOTP tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.auth.accounts.models import Account
from services.auth.audit.models import SecurityEvent
from services.auth.request_context import RequestContext
from services.auth.sessions.service import TokenPair, start_session
from tests.auth.conftest import AuthHarness


def sign_in(auth: AuthHarness, account_id: str, *, ip: str = "203.0.113.10", device: str | None = None) -> TokenPair:
    """A signed-in session, opened the way the login route does once the owner is proven."""
    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        pair = start_session(
            db,
            account,
            RequestContext(ip=ip, device_id=device),
            now=auth.clock.now(),
            key=auth.app.state.signing_key,
            settings=auth.app.state.settings,
        )
        db.commit()
    return pair


def refresh(auth: AuthHarness, token: str) -> Any:
    return auth.call("POST", "/api/auth/tokens/refresh", json={"refresh_token": token})


def me(auth: AuthHarness, access: str) -> Any:
    return auth.call("GET", "/api/auth/me", token=access)


def events(auth: AuthHarness, account_id: str, kind: str) -> list[SecurityEvent]:
    with auth.app.state.db.session() as db:
        query = select(SecurityEvent).where(SecurityEvent.account_id == account_id, SecurityEvent.kind == kind)
        return list(db.execute(query).scalars())


def set_account(auth: AuthHarness, account_id: str, **values: Any) -> None:
    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        for name, value in values.items():
            setattr(account, name, value)
        db.commit()


# --- refreshToken -------------------------------------------------------------------------------
