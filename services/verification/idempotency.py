"""``Idempotency-Key`` on verification's unsafe operations: a replay gets the first answer.

The key row is written in the same transaction as the change it guards, with the answer, so a
change and its remembered answer commit (or roll back) together. A concurrent duplicate's insert
collides on the (account, key) primary key: it then finds the first answer and replays it, or,
while the first is still running, answers 409 ``idempotency_in_progress``. The same key with a
different request is 422 ``idempotency_key_reused``. Keys are per account and kept 24 hours.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import JSON, Integer, String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from mamori_common.db import UTCDateTime
from mamori_common.problems import Problem
from services.verification.database import Base

KEEP = timedelta(hours=24)

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=64,
                                               description="Replaying the same key returns the first answer.")]


class IdempotentRequest(Base):
    __tablename__ = "idempotent_requests"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


def fingerprint(operation: str, *parts: bytes | str) -> str:
    digest = hashlib.sha256(operation.encode())
    for part in parts:
        digest.update(b"\0" + (part.encode() if isinstance(part, str) else part))
    return digest.hexdigest()


def _replay(db: Session, account_id: str, key: str, print_: str) -> JSONResponse | None:
    stored = db.get(IdempotentRequest, (account_id, key))
    if stored is None:
        return None
    if stored.fingerprint != print_:
        raise Problem(422, "idempotency_key_reused", "This Idempotency-Key was used for another request.")
    return JSONResponse(stored.body, status_code=stored.status_code, headers={"idempotent-replay": "true"})


def run_once(db: Session, *, account_id: str, key: str | None, print_: str, now: datetime, status_code: int,
             work: Callable[[], BaseModel]) -> Any:
    """Do ``work`` (which must not commit) once per key; the caller's commit happens here."""
    if key is None:
        result = work()
        db.commit()
        return result
    replay = _replay(db, account_id, key, print_)
    if replay is not None:
        return replay
    db.execute(delete(IdempotentRequest).where(IdempotentRequest.created_at < now - KEEP))
    db.add(IdempotentRequest(account_id=account_id, key=key, fingerprint=print_, status_code=status_code,
                             body={}, created_at=now))
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        replay = _replay(db, account_id, key, print_)
        if replay is not None:
            return replay
        raise Problem(409, "idempotency_in_progress", "A request with this Idempotency-Key is still running.") from None
    result = work()
    stored = db.get(IdempotentRequest, (account_id, key))
    assert stored is not None
    stored.body = result.model_dump(mode="json")
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        replay = _replay(db, account_id, key, print_)
        if replay is not None:
            return replay
        raise
    return result
