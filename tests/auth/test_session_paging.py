"""listSessions pages by cursor: every live session once, newest first, while new sign-ins happen;
another account's cursor is a 400 problem."""

from __future__ import annotations

from typing import Any

import httpx

from tests.auth.conftest import AuthHarness
from tests.support.auth_sessions import sign_in
from tests.support.paging import assert_bad_cursor_refused, follow


def _page(auth: AuthHarness, token: str, limit: int, cursor: str | None) -> httpx.Response:
    params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
    return auth.call("GET", "/api/auth/sessions", token=token, params=params)


def test_paging_through_sessions_returns_each_once_newest_first_while_new_sign_ins_happen(auth: AuthHarness) -> None:
    account_id = auth.register()
    viewer = sign_in(auth, account_id)  # minted before the clock moves: tokens are checked on real time
    started = [viewer.session_id]
    for _ in range(6):
        auth.clock.advance(seconds=1)
        started.append(sign_in(auth, account_id).session_id)
    during: list[str] = []

    def sign_in_again(_page_number: int) -> None:
        auth.clock.advance(seconds=1)
        during.append(sign_in(auth, account_id).session_id)

    seen = follow(lambda cursor: _page(auth, viewer.access_token, 3, cursor), key="sessions", between=sign_in_again)

    assert [session["id"] for session in seen] == started[::-1]
    assert [session["current"] for session in seen] == [False] * 6 + [True]
    assert len(during) == 2
    newest = _page(auth, viewer.access_token, 2, None).json()["sessions"]
    assert [session["id"] for session in newest] == during[::-1]


def test_another_accounts_session_cursor_is_refused(auth: AuthHarness) -> None:
    hana, ken = auth.register(), auth.register("ken@example.com")
    hana_pair, ken_pair = sign_in(auth, hana), sign_in(auth, ken)
    sign_in(auth, hana)
    hanas_next = _page(auth, hana_pair.access_token, 1, None).json()["next"]

    assert_bad_cursor_refused(_page(auth, ken_pair.access_token, 1, hanas_next))
    assert len(_page(auth, hana_pair.access_token, 1, hanas_next).json()["sessions"]) == 1
    refused = _page(auth, ken_pair.access_token, 0, None)
    assert refused.status_code == 422 and refused.json()["code"] == "validation_error"
