"""``Idempotency-Key`` for unsafe calls: a replay returns the first answer, never a second effect.

The key is recorded *before* the work starts (its own short transaction), so a concurrent
duplicate finds it and gets ``409 idempotency_in_progress`` instead of racing the first call.
The answer is stored in the *same* transaction as the effect, so a committed effect always has
its answer to replay, and a rolled-back one leaves no answer (the key is released for a retry).

- the same key and the same body again: the first answer, status and body, replayed;
- the same key with another body: ``422 idempotency_key_reused`` (a client bug, never a replay);
- keys are scoped to the caller (an account, or a service), across every operation, as Stripe's
  are: a key names one request of its caller, so one sent again with another operation or another
  body is ``422 idempotency_key_reused`` (never a replay of something else); kept ``ttl`` (24 h);
- a refused call (a 4xx problem) is replayed as refused, unless the service chooses
  ``keep_refusals=False`` (verification): then the key is released, so the customer can fix the
  request and send it again under the same key.

A service adds the table to its own metadata with :func:`idempotency_table` (like
``event_tables``) and its first migration that needs it calls :func:`create_idempotency_table`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mamori_common.card_numbers import ensure_no_card_number
from mamori_common.db import UTCDateTime, rows_changed
from mamori_common.problems import PROBLEM_MEDIA_TYPE, Problem

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
#: Visible ASCII, no spaces: a UUID, a ULID or any token a client mints fits; a header value with
#: spaces or non-ASCII bytes is a client bug (and not every proxy passes it through unchanged).
KEY_PATTERN = rf"^[!-~]{{1,{MAX_KEY_LENGTH}}}$"
DEFAULT_TTL = timedelta(hours=24)
_IN_PROGRESS = 0

#: The header as a route parameter: ``key: IdempotencyKey = None``.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        max_length=MAX_KEY_LENGTH,
        pattern=KEY_PATTERN,
        description="Repeat a call safely: the same key with the same request answers the first result again "
        "(kept 24 h). A key names one request of its caller, on every operation: mint a new one (a UUID) per "
        "request. Sent again with another operation or body: 422 `idempotency_key_reused`; while the first "
        "call with it still runs: 409 `idempotency_in_progress`.",
    ),
]


#: What every operation that takes the header may answer because of it (see :func:`declare_answers`).
ANSWERS: dict[str, dict[str, Any]] = {
    "409": {"description": f"`idempotency_in_progress`: a call with this {HEADER} is still running"},
    "422": {
        "description": f"`idempotency_key_reused`: this caller already sent this {HEADER} with another request "
        "(another operation or body); `invalid_idempotency_key`; `validation_error`"
    },
}


def declare_answers(document: dict[str, Any]) -> dict[str, Any]:
    """Declare :data:`ANSWERS` on every operation of an OpenAPI document that takes the header.

    Done on the document, not route by route, so no route that takes a key can leave them out.
    A status the route already declares keeps its description, with the key's answer added.
    """
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            parameters = operation.get("parameters", [])
            if not any(p.get("in") == "header" and p.get("name") == HEADER for p in parameters):
                continue
            responses = operation.setdefault("responses", {})
            for status, answer in ANSWERS.items():
                declared = responses.setdefault(status, {"content": {PROBLEM_MEDIA_TYPE: {}}})
                described = declared.get("description", "")
                if answer["description"] not in described:
                    declared["description"] = (
                        f"{described}; {answer['description']}" if described else answer["description"]
                    )
    return document


def idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_keys",
        metadata,
        Column("scope", String(96), primary_key=True),
        Column("key", String(MAX_KEY_LENGTH), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        #: 0 while the first call runs; its HTTP status once it answered.
        Column("status", Integer, nullable=False),
        Column("body", JSON, nullable=True),
        Column("created_at", UTCDateTime, nullable=False),
        Column("expires_at", UTCDateTime, nullable=False),
    )


def create_idempotency_table() -> None:
    """Migration step: the table :func:`idempotency_table` describes."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(96), nullable=False),
        sa.Column("key", sa.String(MAX_KEY_LENGTH), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("body", sa.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
    )


def drop_idempotency_table() -> None:
    from alembic import op

    op.drop_table("idempotency_keys")


def request_fingerprint(operation: str, body: Any) -> str:
    """What "the same request" means: the operation and its canonical JSON body."""
    canonical = json.dumps({"operation": operation, "body": body}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    def response(self, replayed: bool = False) -> JSONResponse:
        is_problem = isinstance(self.body, dict) and self.status >= 400 and "code" in self.body
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return JSONResponse(
            self.body, status_code=self.status, headers=headers,
            media_type=PROBLEM_MEDIA_TYPE if is_problem else "application/json",
        )  # fmt: skip


Work = Callable[[Session], Answer]


def _validate(key: str) -> str:
    if re.fullmatch(KEY_PATTERN, key) is None:
        raise Problem(
            422,
            "invalid_idempotency_key",
            f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} visible ASCII characters.",
        )
    ensure_no_card_number(key, HEADER)  # the key is stored as sent: never a full card number
    return key


def _claim(
    table: Table, session: Session, scope: str, key: str, fingerprint: str, now: datetime, ttl: timedelta
) -> Answer | None:
    """Record the key as in progress (committed); or the stored answer when the call was made before."""
    for _ in range(2):
        try:
            with session.begin():
                session.execute(
                    insert(table).values(
                        scope=scope,
                        key=key,
                        request_hash=fingerprint,
                        status=_IN_PROGRESS,
                        body=None,
                        created_at=now,
                        expires_at=now + ttl,
                    )
                )
            return None
        except IntegrityError:
            pass
        with session.begin():
            row = session.execute(select(table).where(table.c.scope == scope, table.c.key == key)).first()
            if row is None:
                continue  # released between our insert and this read: try again
            if row.expires_at <= now:
                session.execute(delete(table).where(table.c.scope == scope, table.c.key == key))
                continue
        if row.request_hash != fingerprint:
            raise Problem(422, "idempotency_key_reused", f"This {HEADER} was already used for a different request.")
        if row.status == _IN_PROGRESS:
            raise Problem(409, "idempotency_in_progress", f"A request with this {HEADER} is still being processed.")
        return Answer(row.status, row.body)
    raise Problem(409, "idempotency_in_progress", f"A request with this {HEADER} is still being processed.")


def run_idempotent(
    table: Table,
    session: Session,
    *,
    key: str | None,
    scope: str,
    fingerprint: str,
    now: datetime,
    work: Work,
    ttl: timedelta = DEFAULT_TTL,
    keep_refusals: bool = True,
) -> JSONResponse:
    """Run ``work`` (which must not commit) once per key; its answer is stored with its effect.

    ``work`` returns the answer, or raises a :class:`Problem`: a 4xx problem is an answer too, kept
    and replayed (the request was refused; sending it again is refused again), and its effects are
    rolled back. With ``keep_refusals=False`` a 4xx problem is raised instead and the key released.
    Any other exception releases the key so the client may retry.
    """
    if key is None:
        try:
            with session.begin():
                answer = work(session)
        except Problem as problem:
            if problem.status >= 500 or not keep_refusals:
                raise
            return Answer(problem.status, problem.body()).response()
        return answer.response()

    key = _validate(key)
    stored = _claim(table, session, scope, key, fingerprint, now, ttl)
    if stored is not None:
        return stored.response(replayed=True)
    mine = (table.c.scope == scope) & (table.c.key == key)
    try:
        with session.begin():
            answer = work(session)
            session.execute(update(table).where(mine).values(status=answer.status, body=answer.body))
    except Problem as problem:
        if problem.status >= 500 or not keep_refusals:
            _release(table, session, mine)
            raise
        answer = Answer(problem.status, problem.body())
        with session.begin():
            session.execute(update(table).where(mine).values(status=answer.status, body=answer.body))
    except BaseException:
        _release(table, session, mine)
        raise
    return answer.response()


def _release(table: Table, session: Session, mine: Any) -> None:
    session.rollback()
    with session.begin():
        session.execute(delete(table).where(mine))


def purge_expired(table: Table, session: Session, now: datetime) -> int:
    """Delete keys past their time (callers commit); returns how many went."""
    return rows_changed(session.execute(delete(table).where(table.c.expires_at <= now))) or 0
