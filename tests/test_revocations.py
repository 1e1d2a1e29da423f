"""The kit's list of ended sessions (``mamori_common/revocations.py``) without the event.

The event reaches one replica, and late when delivery lags; the pull of auth's
``/internal/revocations`` is what bounds the delay for every replica. Here no event is sent: the
pull alone stops an ended session's token at orders, a second replica reading the same table picks
it up by itself, and a pull that cannot reach auth forgets nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from mamori_common.clock import ManualClock
from mamori_common.replicas import ReplicaSet
from mamori_common.revocations import RevocationFeed, RevokedSessions
from services.auth.accounts.models import Account
from services.auth.config import AuthSettings
from services.auth.main import create_app as create_auth
from services.auth.request_context import RequestContext
from services.auth.sessions.service import TokenPair, start_session
from services.orders.config import OrdersSettings
from services.orders.database import revoked_sessions
from tests.orders.harness import OrdersHarness, build

PASSWORD = "quiet-harbour-lantern-58"


@pytest.fixture
def suite(  # one data dir, as ``mamori run`` has: a database file and a key pair each
    data_dir: Path,
) -> Iterator[tuple[TestClient, OrdersHarness]]:
    clock = ManualClock()
    auth_app = create_auth(AuthSettings(data_dir=data_dir), migrate=True, clock=clock, run_background=False)
    app, standing, key, _ = build(OrdersSettings(data_dir=data_dir), clock)
    with TestClient(auth_app) as auth, TestClient(app) as orders:
        yield auth, OrdersHarness(app, orders, clock, standing, key)


def _session(auth: TestClient) -> TokenPair:
    email = f"pull-{uuid.uuid4().hex[:8]}@example.com"
    made = auth.post("/api/auth/accounts", json={"email": email, "password": PASSWORD, "name": "Sora Aoki"})
    assert made.status_code == 201, made.text
    app = auth.app
    with app.state.db.session() as db:  # type: ignore[attr-defined]
        account = db.get(Account, made.json()["account_id"])
        pair = start_session(
            db,
            account,
            RequestContext(ip="203.0.113.7"),
            now=app.state.clock.now(),  # type: ignore[attr-defined]
            key=app.state.signing_key,  # type: ignore[attr-defined]
            settings=app.state.settings,  # type: ignore[attr-defined]
        )
        db.commit()
    return pair


def _feed(orders: OrdersHarness, transport: httpx.AsyncBaseTransport) -> tuple[RevocationFeed, httpx.AsyncClient]:
    feed = RevocationFeed(
        orders.app.state.revocations,
        ReplicaSet("auth", ["http://auth"], 5.0),
        orders.app.state.service_key,
    )
    return feed, httpx.AsyncClient(transport=transport)


def _list_orders(orders: OrdersHarness, account_id: str, session_id: str) -> httpx.Response:
    token = orders.token(account_id, session_id)
    return orders.client.get("/api/orders/orders", headers={"authorization": f"Bearer {token}"})


def test_the_pull_alone_stops_an_ended_session_and_a_lost_auth_forgets_nothing(
    suite: tuple[TestClient, OrdersHarness],
) -> None:
    auth, orders = suite
    pair = _session(auth)
    account_id = auth.get("/api/auth/me", headers={"authorization": f"Bearer {pair.access_token}"}).json()["account_id"]
    assert _list_orders(orders, account_id, pair.session_id).status_code == 200
    assert auth.post("/api/auth/logout", headers={"authorization": f"Bearer {pair.access_token}"}).status_code == 204

    feed, client = _feed(orders, httpx.ASGITransport(app=auth.app))
    assert asyncio.run(feed.pull_once(client)) == 1
    refused = _list_orders(orders, account_id, pair.session_id)
    assert refused.status_code == 401 and refused.json()["code"] == "session_revoked", refused.text

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("auth is down", request=request)

    feed, client = _feed(orders, httpx.MockTransport(down))
    with pytest.raises(httpx.ConnectError):
        asyncio.run(feed.pull_once(client))
    assert _list_orders(orders, account_id, pair.session_id).json()["code"] == "session_revoked"
    assert _list_orders(orders, account_id, uuid.uuid4().hex).status_code == 200, "a live session still works"


def test_a_second_replica_picks_up_what_the_first_recorded(suite: tuple[TestClient, OrdersHarness]) -> None:
    _, orders = suite
    first: RevokedSessions = orders.app.state.revocations
    second = RevokedSessions(orders.app.state.db, revoked_sessions, orders.clock)
    second.load()
    session_id = uuid.uuid4().hex
    orders.event(
        "session.revoked",
        {
            "account_id": uuid.uuid4().hex,
            "session_ids": [session_id],
            "reason": "revoked_by_owner",
            "revoked_at": orders.clock.now().isoformat(),
        },
    )
    assert first.is_revoked(session_id)
    assert not second.is_revoked(session_id)
    second.sync()
    assert second.is_revoked(session_id)
