"""Auth tells every service which sessions ended: ``session.revoked`` and ``/internal/revocations``.

On main a logout, "sign out everywhere" or a freeze ended the session only at auth: nothing told
orders or verification, which went on accepting its access token. Here each of them queues one
``session.revoked`` naming the ended sessions, for orders and verification; the internal list answers
the same sessions to the services that pull it (and to nobody else); and the standing question,
asked with the caller's session, refuses a session that has ended.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mamori_common.contract import ACCOUNT_STANDING_PATH, REVOCATIONS_PATH, SESSION_REVOKED
from services.auth.accounts.models import Account
from services.auth.database import outbox
from services.auth.env import AuthEnv
from services.auth.freezing.flows import freeze_account
from services.auth.request_context import RequestContext
from tests.auth.conftest import AuthHarness
from tests.support.auth_sessions import sign_in
from tests.support.service_keys import service_token


def revocations_sent(auth: AuthHarness) -> list[tuple[str, dict[str, Any]]]:
    """(subscriber, payload) of every ``session.revoked`` in auth's outbox, oldest first."""
    with auth.app.state.db.session() as db:
        query = select(outbox.c.subscriber, outbox.c.payload).where(outbox.c.event_type == SESSION_REVOKED)
        return [(row.subscriber, row.payload) for row in db.execute(query.order_by(outbox.c.id))]


def internal(auth: AuthHarness, path: str, caller: str = "orders", **params: str) -> Any:
    token = service_token(auth.app, caller)
    return auth.client.get(path, params=params, headers={"authorization": f"Bearer {token}"})


def test_logout_announces_the_ended_session_to_orders_and_verification(auth: AuthHarness) -> None:
    account_id = auth.register()
    pair = sign_in(auth, account_id)

    assert auth.call("POST", "/api/auth/logout", token=pair.access_token).status_code == 204

    sent = revocations_sent(auth)
    assert sorted(subscriber for subscriber, _ in sent) == ["orders", "verification"]
    payload = sent[0][1]
    assert payload["account_id"] == account_id
    assert payload["session_ids"] == [pair.session_id]
    assert payload["reason"] == "logout"


def test_sign_out_everywhere_names_every_other_session_in_one_event(auth: AuthHarness) -> None:
    account_id = auth.register()
    first, second, current = (sign_in(auth, account_id) for _ in range(3))

    ended = auth.call("POST", "/api/auth/sessions/revoke", token=current.access_token, json={"all_but_current": True})
    assert ended.status_code == 200, ended.text

    (payload,) = {str(p["session_ids"]): p for _, p in revocations_sent(auth)}.values()
    assert sorted(payload["session_ids"]) == sorted([first.session_id, second.session_id])
    assert current.session_id not in payload["session_ids"]


def test_a_freeze_announces_every_session_of_the_account(auth: AuthHarness) -> None:
    account_id = auth.register()
    pairs = [sign_in(auth, account_id) for _ in range(2)]
    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        assert account is not None
        freeze_account(
            db,
            AuthEnv.of(auth.app),
            account,
            reason="drill",
            actor="system",
            context=RequestContext(ip="203.0.113.10"),
            now=auth.clock.now(),
        )
        db.commit()

    (payload,) = {str(p["session_ids"]): p for _, p in revocations_sent(auth)}.values()
    assert sorted(payload["session_ids"]) == sorted(pair.session_id for pair in pairs)
    assert payload["reason"] == "account_frozen"


def test_the_internal_list_answers_ended_sessions_to_the_services_that_check_tokens(auth: AuthHarness) -> None:
    account_id = auth.register()
    ended, live = sign_in(auth, account_id), sign_in(auth, account_id)
    before = auth.clock.now()
    auth.clock.advance(seconds=1)
    assert auth.call("POST", "/api/auth/logout", token=ended.access_token).status_code == 204

    listed = internal(auth, REVOCATIONS_PATH, since=before.isoformat())
    assert listed.status_code == 200, listed.text
    ids = [item["session_id"] for item in listed.json()["revocations"]]
    assert ids == [ended.session_id]
    assert live.session_id not in ids
    later = internal(auth, REVOCATIONS_PATH, since=listed.json()["revocations"][0]["revoked_at"], after=ids[0])
    assert later.json()["revocations"] == []

    # A service with a key of its own but not on the list; the portal, which has no key at all.
    not_listed = internal(auth, REVOCATIONS_PATH, caller="auth")
    assert not_listed.status_code == 403 and not_listed.json()["code"] == "caller_not_allowed"
    assert internal(auth, REVOCATIONS_PATH, caller="portal").status_code == 401
    assert auth.client.get(REVOCATIONS_PATH).status_code == 401


def test_the_standing_question_refuses_an_ended_session(auth: AuthHarness) -> None:
    account_id = auth.register()
    ended, live = sign_in(auth, account_id), sign_in(auth, account_id)
    stranger = sign_in(auth, auth.register("someone@example.com"))
    path = ACCOUNT_STANDING_PATH.format(account_id=account_id)
    assert auth.call("POST", "/api/auth/logout", token=ended.access_token).status_code == 204

    assert internal(auth, path, session_id=live.session_id).status_code == 200
    for session_id in (ended.session_id, stranger.session_id, "no-such-session"):
        refused = internal(auth, path, session_id=session_id)
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "session_revoked"
    assert internal(auth, path).status_code == 200, "without a session id the answer is the account's"
