"""Sessions and refresh tokens: rotation, reuse detection, logout, listing and revoking sessions."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from services.auth.accounts.models import AccountState
from services.auth.messages.models import Message
from services.auth.sessions import service
from services.auth.sessions.models import Session
from tests.auth.conftest import AuthHarness
from tests.support.auth_sessions import (
    events,
    me,
    refresh,
    set_account,
    sign_in,
)


def test_refresh_gives_a_working_new_pair_in_the_same_session(auth: AuthHarness) -> None:
    account_id = auth.register()
    first = sign_in(auth, account_id)

    response = refresh(auth, first.refresh_token)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == auth.settings.access_token_seconds
    assert body["refresh_token"] != first.refresh_token
    assert me(auth, body["access_token"]).json()["account_id"] == account_id
    # Still the same session: one live session, and the new refresh token rotates again.
    sessions = auth.call("GET", "/api/auth/sessions", token=body["access_token"]).json()["sessions"]
    assert [s["id"] for s in sessions] == [first.session_id]
    again = refresh(auth, body["refresh_token"])
    assert again.status_code == 200, again.text


def test_refresh_updates_last_seen(auth: AuthHarness) -> None:
    account_id = auth.register()
    pair = sign_in(auth, account_id)
    later = auth.clock.advance(minutes=7)

    assert refresh(auth, pair.refresh_token).status_code == 200

    # Read from the table: an access token minted on the moved clock is "not yet valid" in real time.
    with auth.app.state.db.session() as db:
        session = db.get(Session, pair.session_id)
        assert session.last_seen_at == later
        assert session.created_at < later


def test_reusing_a_rotated_refresh_token_ends_the_whole_session(auth: AuthHarness) -> None:
    account_id = auth.register()
    stolen = sign_in(auth, account_id)
    newest = refresh(auth, stolen.refresh_token).json()  # the owner rotates; the thief kept the old one
    auth.clock.advance(seconds=auth.settings.refresh_reuse_grace_seconds + 1)

    reuse = auth.call(
        "POST", "/api/auth/tokens/refresh", ip="198.51.100.66", json={"refresh_token": stolen.refresh_token}
    )

    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_reused"
    # Every token of the family is dead: the newest refresh token and the session's access token.
    later = refresh(auth, newest["refresh_token"])
    assert later.status_code == 401 and later.json()["code"] == "invalid_refresh_token"
    refused = me(auth, newest["access_token"])
    assert refused.status_code == 401 and refused.json()["code"] == "session_revoked"
    # Audited with where the reuse came from, and the customer is told.
    [event] = events(auth, account_id, "refresh_token_reused")
    assert event.ip == "198.51.100.66"
    assert event.details["session_id"] == stolen.session_id
    with auth.app.state.db.session() as db:
        session = db.get(Session, stolen.session_id)
        assert session.revoked_reason == "refresh_token_reused"
        templates = list(db.execute(select(Message.template).where(Message.account_id == account_id)).scalars())
    assert "refresh_token_reused" in templates


def test_reuse_ends_only_that_session(auth: AuthHarness) -> None:
    account_id = auth.register()
    stolen = sign_in(auth, account_id)
    other = sign_in(auth, account_id, ip="203.0.113.20")
    refresh(auth, stolen.refresh_token)
    auth.clock.advance(seconds=auth.settings.refresh_reuse_grace_seconds + 1)

    assert refresh(auth, stolen.refresh_token).json()["code"] == "refresh_token_reused"

    assert me(auth, other.access_token).status_code == 200
    assert refresh(auth, other.refresh_token).status_code == 200


def test_concurrent_refreshes_with_one_token_all_get_the_same_successor(auth: AuthHarness) -> None:
    """Two tabs (here four requests) refreshing at once: within the grace window every one gets
    the same new refresh token, and the session goes on."""
    account_id = auth.register()
    pair = sign_in(auth, account_id)
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def use() -> None:
        barrier.wait()
        results.append(refresh(auth, pair.refresh_token))

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [response.status_code for response in results] == [200] * 4, [r.text for r in results]
    successors = {response.json()["refresh_token"] for response in results}
    assert len(successors) == 1 and pair.refresh_token not in successors
    assert me(auth, results[0].json()["access_token"]).status_code == 200
    assert refresh(auth, successors.pop()).status_code == 200  # the shared successor rotates on


def test_a_rotated_token_back_within_the_grace_window_gets_the_same_successor(auth: AuthHarness) -> None:
    account_id = auth.register()
    pair = sign_in(auth, account_id)
    first = refresh(auth, pair.refresh_token).json()
    auth.clock.advance(seconds=auth.settings.refresh_reuse_grace_seconds)

    again = refresh(auth, pair.refresh_token)

    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] == first["refresh_token"]
    assert events(auth, account_id, "refresh_token_reused") == []
    with auth.app.state.db.session() as db:
        assert db.get(Session, pair.session_id).revoked_at is None


def test_a_rotated_token_back_after_the_window_or_after_its_successor_moved_on_ends_the_family(
    auth: AuthHarness,
) -> None:
    account_id = auth.register()
    late = sign_in(auth, account_id)
    refresh(auth, late.refresh_token)
    auth.clock.advance(seconds=auth.settings.refresh_reuse_grace_seconds + 1)
    assert refresh(auth, late.refresh_token).json()["code"] == "refresh_token_reused"

    # Within the window, but the successor was already exchanged in turn: someone else went on.
    raced = sign_in(auth, account_id, ip="203.0.113.20")
    successor = refresh(auth, raced.refresh_token).json()["refresh_token"]
    assert refresh(auth, successor).status_code == 200
    assert refresh(auth, raced.refresh_token).json()["code"] == "refresh_token_reused"
    with auth.app.state.db.session() as db:
        assert db.get(Session, raced.session_id).revoked_reason == "refresh_token_reused"


def test_only_one_of_two_interleaved_claims_of_a_token_wins(auth: AuthHarness) -> None:
    """The race in slow motion: both requests read the unused token before either writes."""
    account_id = auth.register()
    pair = sign_in(auth, account_id)
    database = auth.app.state.db
    with database.session() as first, database.session() as second:
        token_a = service.find_refresh_token(first, pair.refresh_token)
        token_b = service.find_refresh_token(second, pair.refresh_token)
        assert token_a is not None and token_b is not None
        assert token_a.rotated_at is None and token_b.rotated_at is None

        won_a = service.claim_refresh_token(first, token_a, now=auth.clock.now())
        first.commit()
        won_b = service.claim_refresh_token(second, token_b, now=auth.clock.now())
        second.commit()

    assert (won_a, won_b) == (True, False)


def test_unknown_and_expired_refresh_tokens_are_refused(auth: AuthHarness) -> None:
    account_id = auth.register()
    pair = sign_in(auth, account_id)

    unknown = refresh(auth, "not-a-token")
    assert unknown.status_code == 401 and unknown.json()["code"] == "invalid_refresh_token"

    auth.clock.advance(days=auth.settings.refresh_token_days, seconds=1)
    expired = refresh(auth, pair.refresh_token)
    assert expired.status_code == 401 and expired.json()["code"] == "invalid_refresh_token"


def test_refresh_is_refused_while_the_account_is_frozen_or_locked(auth: AuthHarness) -> None:
    account_id = auth.register()
    pair = sign_in(auth, account_id)

    set_account(auth, account_id, state=AccountState.frozen, state_case_id="case-frozen")
    frozen = refresh(auth, pair.refresh_token)
    assert frozen.status_code == 401
    assert frozen.json()["code"] == "account_frozen" and frozen.json()["case_id"] == "case-frozen"

    until = auth.clock.now() + timedelta(minutes=15)
    set_account(auth, account_id, state=AccountState.active, lock_case_id="case-lock", locked_until=until)
    locked = refresh(auth, pair.refresh_token)
    assert locked.status_code == 423
    assert locked.json()["code"] == "account_locked" and locked.json()["case_id"] == "case-lock"

    # Refusals did not spend the token: once the lock has run out it still works.
    auth.clock.advance(minutes=16)
    assert refresh(auth, pair.refresh_token).status_code == 200


def test_refresh_request_rejects_unknown_fields(auth: AuthHarness) -> None:
    response = auth.call("POST", "/api/auth/tokens/refresh", json={"refresh_token": "x", "scope": "admin"})
    assert response.status_code == 422


# --- logout -------------------------------------------------------------------------------------


def test_logout_ends_the_session_and_its_tokens(auth: AuthHarness) -> None:
    account_id = auth.register()
    pair = sign_in(auth, account_id)
    other = sign_in(auth, account_id, ip="203.0.113.20")

    response = auth.call("POST", "/api/auth/logout", token=pair.access_token)

    assert response.status_code == 204
    assert me(auth, pair.access_token).json()["code"] == "session_revoked"
    assert refresh(auth, pair.refresh_token).json()["code"] == "invalid_refresh_token"
    assert me(auth, other.access_token).status_code == 200
    assert len(events(auth, account_id, "logout")) == 1


def test_logout_with_only_the_refresh_token(auth: AuthHarness) -> None:
    account_id = auth.register()
    pair = sign_in(auth, account_id)

    response = auth.call("POST", "/api/auth/logout", json={"refresh_token": pair.refresh_token})

    assert response.status_code == 204
    assert me(auth, pair.access_token).json()["code"] == "session_revoked"


def test_logout_without_credentials_or_with_another_sessions_token_changes_nothing(auth: AuthHarness) -> None:
    account_id = auth.register()
    pair = sign_in(auth, account_id)
    other = sign_in(auth, account_id, ip="203.0.113.20")

    assert auth.call("POST", "/api/auth/logout").status_code == 401
    mismatch = auth.call(
        "POST", "/api/auth/logout", token=pair.access_token, json={"refresh_token": other.refresh_token}
    )
    assert mismatch.status_code == 400 and mismatch.json()["code"] == "refresh_token_mismatch"

    assert me(auth, pair.access_token).status_code == 200
    assert me(auth, other.access_token).status_code == 200


# --- listSessions and revokeSessions ------------------------------------------------------------


def test_list_sessions_shows_only_own_live_sessions_and_marks_the_current_one(auth: AuthHarness) -> None:
    hana = auth.register()
    ken = auth.register("ken@example.com", name="Ken Mori")
    phone = sign_in(auth, hana, ip="203.0.113.10", device="phone-1")
    laptop = sign_in(auth, hana, ip="203.0.113.11", device="laptop-1")
    ended = sign_in(auth, hana, ip="203.0.113.12")
    sign_in(auth, ken, ip="203.0.113.13")
    auth.call("POST", "/api/auth/logout", token=ended.access_token)

    response = auth.call("GET", "/api/auth/sessions", token=laptop.access_token)

    assert response.status_code == 200
    listed = {s["id"]: s for s in response.json()["sessions"]}
    assert set(listed) == {phone.session_id, laptop.session_id}
    assert listed[laptop.session_id]["current"] is True
    assert listed[phone.session_id]["current"] is False
    assert listed[phone.session_id]["device_id"] == "phone-1"
    assert listed[phone.session_id]["ip"] == "203.0.113.10"


def test_list_sessions_needs_a_live_session(auth: AuthHarness) -> None:
    assert auth.call("GET", "/api/auth/sessions").status_code == 401


def test_revoking_another_customers_session_is_not_found_and_changes_nothing(auth: AuthHarness) -> None:
    hana = auth.register()
    ken = auth.register("ken@example.com", name="Ken Mori")
    hana_pair = sign_in(auth, hana)
    ken_pair = sign_in(auth, ken, ip="203.0.113.13")

    response = auth.call(
        "POST", "/api/auth/sessions/revoke", token=hana_pair.access_token, json={"session_id": ken_pair.session_id}
    )

    assert response.status_code == 404
    assert response.json()["code"] == "session_not_found"
    assert me(auth, ken_pair.access_token).status_code == 200
    assert refresh(auth, ken_pair.refresh_token).status_code == 200
    assert events(auth, hana, "sessions_revoked") == []


def test_revoke_one_own_session(auth: AuthHarness) -> None:
    account_id = auth.register()
    current = sign_in(auth, account_id)
    lost_phone = sign_in(auth, account_id, ip="203.0.113.20")

    response = auth.call(
        "POST", "/api/auth/sessions/revoke", token=current.access_token, json={"session_id": lost_phone.session_id}
    )

    assert response.status_code == 200
    assert response.json() == {"revoked": [lost_phone.session_id]}
    assert me(auth, lost_phone.access_token).json()["code"] == "session_revoked"
    assert refresh(auth, lost_phone.refresh_token).status_code == 401
    assert me(auth, current.access_token).status_code == 200
    [event] = events(auth, account_id, "sessions_revoked")
    assert event.details["session_ids"] == [lost_phone.session_id]
    # Ending it twice: it is no longer a live session.
    again = auth.call(
        "POST", "/api/auth/sessions/revoke", token=current.access_token, json={"session_id": lost_phone.session_id}
    )
    assert again.status_code == 404


def test_revoke_all_but_current(auth: AuthHarness) -> None:
    account_id = auth.register()
    ken = auth.register("ken@example.com", name="Ken Mori")
    current = sign_in(auth, account_id)
    others = [sign_in(auth, account_id, ip=f"203.0.113.{20 + i}") for i in range(2)]
    ken_pair = sign_in(auth, ken)

    response = auth.call(
        "POST", "/api/auth/sessions/revoke", token=current.access_token, json={"all_but_current": True}
    )

    assert response.status_code == 200
    assert sorted(response.json()["revoked"]) == sorted(pair.session_id for pair in others)
    for pair in others:
        assert me(auth, pair.access_token).json()["code"] == "session_revoked"
    assert me(auth, current.access_token).status_code == 200
    assert me(auth, ken_pair.access_token).status_code == 200
    listed = auth.call("GET", "/api/auth/sessions", token=current.access_token).json()["sessions"]
    assert [s["id"] for s in listed] == [current.session_id]


def test_revoke_needs_exactly_one_target(auth: AuthHarness) -> None:
    account_id = auth.register()
    current = sign_in(auth, account_id)
    other = sign_in(auth, account_id, ip="203.0.113.20")

    for body in ({}, {"all_but_current": False}, {"session_id": other.session_id, "all_but_current": True}):
        response = auth.call("POST", "/api/auth/sessions/revoke", token=current.access_token, json=body)
        assert response.status_code == 422, body

    assert me(auth, other.access_token).status_code == 200
