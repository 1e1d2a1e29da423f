"""What the verification code needs besides a database session: settings, clock, outbox, keys.

Routes get it as a dependency; event handlers, which receive only a session, read it from the
session's ``info`` (set once by :func:`install`), the way auth wires its message centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy.orm import Session

from mamori_common.clock import Clock
from mamori_common.db import Database
from mamori_common.events import Outbox
from services.verification.config import VerificationSettings
from services.verification.documents.storage import DocumentStore

_KEY = "mamori.verification.env"


@dataclass(frozen=True)
class VerificationEnv:
    settings: VerificationSettings
    clock: Clock
    outbox: Outbox
    store: DocumentStore


def install(app: FastAPI, env: VerificationEnv) -> None:
    app.state.verification = env
    database: Database = app.state.db
    info = dict(database.sessions.kw.get("info") or {})
    info[_KEY] = env
    database.sessions.configure(info=info)


def env_of(db: Session) -> VerificationEnv:
    env = db.info.get(_KEY)
    if env is None:
        raise RuntimeError("the verification environment is not installed in this app")
    return env


def get_env(request: Request) -> VerificationEnv:
    return request.app.state.verification


EnvDep = Annotated[VerificationEnv, Depends(get_env)]
