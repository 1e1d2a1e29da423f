"""Cursor pagination, the one way every list is paged: ``limit``, an opaque ``cursor``, ``next``.

A page is a keyset query over ``(time, id)``: the cursor names the last item the caller saw, and
the next page is what sorts after it. Items inserted between two calls sort before the cursor (a
newer time) or at their own place, so paging on never repeats nor skips an item that was there
when paging began, which offsets cannot promise.

The cursor is ``base64url(JSON [time, id]) "." base64url(HMAC)``, the MAC keyed by a key derived
from the service's own private key (shared by its replicas, nobody else's) and bound to a *scope* the route names: the operation and whose
list it is (``listOrders:<account id>``). A cursor edited by hand, made for another list or
another customer is refused with 400 ``invalid_cursor``; it never selects anything by itself,
every query keeps its owner filter, so even a forged position shows only the caller's own items.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from sqlalchemy import Select, SQLColumnExpression, and_, or_
from sqlalchemy.orm import Session

from mamori_common.problems import PROBLEM_MEDIA_TYPE, Problem
from mamori_common.service_keys import ServiceKey

T = TypeVar("T")

#: Items a page holds when the caller does not say.
DEFAULT_LIMIT = 20
#: The most items one page holds: one call's work stays bounded whatever the caller asks.
MAX_LIMIT = 100
#: A cursor is a time, an id of at most 64 characters and a MAC; anything longer is not one.
MAX_CURSOR_LENGTH = 256
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"

_MAC_BYTES = 16
_LABEL = b"mamori.pagination.v1"

#: ``responses=`` of every paged route: what a bad cursor or limit gets.
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "`invalid_cursor`: the cursor was not issued for this list and caller",
        "content": {PROBLEM_MEDIA_TYPE: {}},
    },
    422: {"description": "`validation_error`: limit outside 1..100", "content": {PROBLEM_MEDIA_TYPE: {}}},
}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _invalid() -> Problem:
    return Problem(
        400,
        "invalid_cursor",
        "This cursor was not issued for this list: start again without one and follow `next`.",
    )


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last item's sort time and id."""

    at: datetime
    id: str | int


@dataclass(frozen=True)
class CursorSigner:
    """Makes and reads cursors with one secret (every replica of a service shares it)."""

    secret: bytes

    def _mac(self, scope: str, payload: bytes) -> bytes:
        message = _LABEL + b"\0" + scope.encode() + b"\0" + payload
        return hmac.new(self.secret, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, scope: str, position: Position) -> str:
        payload = json.dumps([position.at.astimezone(UTC).isoformat(), position.id], separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(scope, payload))}"

    def read(self, scope: str, cursor: str) -> Position:
        """The position a cursor names, or 400 ``invalid_cursor`` if it is not one we issued for ``scope``."""
        body, _, mac = cursor.partition(".")
        try:
            payload, given = _unb64(body), _unb64(mac)
        except (binascii.Error, ValueError):
            raise _invalid() from None
        if not hmac.compare_digest(given, self._mac(scope, payload)):
            raise _invalid()
        try:
            at, item_id = json.loads(payload)
            when = datetime.fromisoformat(at).astimezone(UTC)
        except (ValueError, TypeError):
            raise _invalid() from None
        if isinstance(item_id, bool) or not isinstance(item_id, str | int):
            raise _invalid()
        return Position(when, item_id)


@dataclass(frozen=True)
class PageRequest:
    """What the caller asked for (``limit``, ``cursor``), with the service's signer."""

    limit: int
    cursor: str | None
    signer: CursorSigner

    def after(self, scope: str) -> Position | None:
        return None if self.cursor is None else self.signer.read(scope, self.cursor)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    #: The cursor of the page after this one; None on the last page.
    next: str | None


def signer_for(secret: str) -> CursorSigner:
    """A signer under a key derived from ``secret`` (never the secret itself)."""
    return CursorSigner(hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest())


def cursor_signer(key: ServiceKey) -> CursorSigner:
    """The service's cursor key, derived from its own private key: every replica of the service
    derives the same one, and no other service can."""
    return CursorSigner(key.derive(_LABEL))


def _page_request(
    request: Request,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}).")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_LENGTH,
            pattern=CURSOR_PATTERN,
            description="Opaque: the `next` of the previous page. Omit it for the first page.",
        ),
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor, signer=request.app.state.cursor_signer)


#: The ``limit`` and ``cursor`` query parameters of a paged route.
PageDep = Annotated[PageRequest, Depends(_page_request)]


def paginate(
    db: Session,
    query: Select[T],
    *,
    page: PageRequest,
    scope: str,
    order: tuple[SQLColumnExpression[datetime], SQLColumnExpression[str] | SQLColumnExpression[int]],
    key: Callable[[T], Position],
    descending: bool = True,
) -> Page[T]:
    """One page of ``query`` (which keeps its own owner filter) in ``order`` (time, then id).

    ``key`` gives an item's position, the same two values ``order`` sorts by.
    """
    at, item_id = order
    after = page.after(scope)
    if after is not None:
        if descending:
            query = query.where(or_(at < after.at, and_(at == after.at, item_id < after.id)))
        else:
            query = query.where(or_(at > after.at, and_(at == after.at, item_id > after.id)))
    ordering = (at.desc(), item_id.desc()) if descending else (at.asc(), item_id.asc())
    rows: Sequence[T] = db.scalars(query.order_by(None).order_by(*ordering).limit(page.limit + 1)).all()
    items = list(rows[: page.limit])
    more = len(rows) > page.limit
    return Page(items, page.signer.issue(scope, key(items[-1])) if more else None)
