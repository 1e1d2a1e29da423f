"""How verification's unsafe routes run under ``Idempotency-Key``: the kit's one implementation
(:mod:`mamori_common.idempotency`), with verification's two choices.

- A refused request (a 4xx problem) is not remembered: the key is released, so a customer who
  fixes the form (e.g. removes a card number) sends it again under the same key.
- Expired keys are purged as keyed calls arrive (verification has no purge job), so the table
  holds at most a day of keys.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from mamori_common.idempotency import Answer, purge_expired, request_fingerprint, run_idempotent
from services.verification.database import idempotency_keys


def run_once(
    db: Session,
    *,
    scope: str,
    key: str | None,
    operation: str,
    request: Any,
    now: datetime,
    status_code: int,
    work: Callable[[], BaseModel],
) -> JSONResponse:
    """Do ``work`` (which must not commit) once per ``scope`` and key; its answer commits with its change.

    ``request`` is what makes two calls "the same" (the operation's inputs, JSON-able).
    """
    if db.in_transaction():
        db.rollback()  # only the route's ownership checks ran: the work gets a transaction of its own
    if key is not None:
        with db.begin():
            purge_expired(idempotency_keys, db, now)
    return run_idempotent(
        idempotency_keys,
        db,
        key=key,
        scope=scope,
        fingerprint=request_fingerprint(operation, request),
        now=now,
        work=lambda _session: Answer(status_code, work().model_dump(mode="json")),
        keep_refusals=False,
    )
