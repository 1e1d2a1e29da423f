"""What auth's flows use from the app, gathered once per request (``EnvDep``), so a flow takes one
``env`` instead of settings, hashers, encryptor, outbox, limiter and clock one by one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from mamori_common.clock import Clock
from mamori_common.events import Outbox
from mamori_common.quotas import Quotas
from services.auth.config import AuthSettings
from services.auth.credentials.codes import CodeHasher
from services.auth.credentials.encryption import Encryptor
from services.auth.credentials.passwords import Passwords
from services.auth.tokens.keys import SigningKey


@dataclass(frozen=True)
class AuthEnv:
    settings: AuthSettings
    passwords: Passwords
    encryptor: Encryptor
    code_hasher: CodeHasher
    signing_key: SigningKey
    outbox: Outbox
    quotas: Quotas
    clock: Clock

    @classmethod
    def fields_of(cls, app: FastAPI) -> dict[str, Any]:
        state = app.state
        return {
            "settings": state.settings,
            "passwords": state.passwords,
            "encryptor": state.encryptor,
            "code_hasher": state.code_hasher,
            "signing_key": state.signing_key,
            "outbox": state.outbox,
            "quotas": state.quotas,
            "clock": state.clock,
        }

    @classmethod
    def of(cls, app: FastAPI) -> AuthEnv:
        return cls(**cls.fields_of(app))


def get_env(request: Request) -> AuthEnv:
    return AuthEnv.of(request.app)


EnvDep = Annotated[AuthEnv, Depends(get_env)]


#: ``Session.info`` key of the app's :class:`AuthEnv`, for event handlers (they get only a session).
ENV_KEY = "mamori.auth.env"


def install(app: FastAPI) -> None:
    """Give every session of the app's database the env, as ``messages.mailer.install`` does."""
    database = app.state.db
    info = dict(database.sessions.kw.get("info") or {})
    info[ENV_KEY] = AuthEnv.of(app)
    database.sessions.configure(info=info)


def env_of(db: Any) -> AuthEnv:
    """The env an event handler's session carries (:func:`install`)."""
    env = db.info.get(ENV_KEY)
    if env is None:
        raise RuntimeError("the auth env is not wired into this app (env.install)")
    return env
