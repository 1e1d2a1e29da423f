"""Following a paged list the way a client must: ``next`` into ``cursor`` until there is none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

#: A call of one page: the cursor (None for the first page) in, the HTTP answer out.
FetchPage = Callable[[str | None], httpx.Response]


def follow(fetch: FetchPage, *, key: str = "items", between: Callable[[int], None] | None = None) -> list[Any]:
    """Every item of every page, in order; ``between(n)`` runs after page n (to insert items meanwhile)."""
    seen: list[Any] = []
    cursor: str | None = None
    for number in range(1, 1000):
        response = fetch(cursor)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(body[key])
        cursor = body["next"]
        if cursor is None:
            return seen
        if between is not None:
            between(number)
    raise AssertionError("the list never ended")


def assert_bad_cursor_refused(response: httpx.Response) -> None:
    """A cursor not issued for this list and caller: a 400 problem, never another list's items."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_cursor"
