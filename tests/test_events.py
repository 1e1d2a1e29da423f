"""Events between services through the real outbox, dispatcher and inbox (mamori_common.events).

Auth is the producer (``account.locked`` goes to verification, ``session.compromised`` to orders
and verification) and verification the subscriber, each its own app with its own database, the
subscriber served by a real uvicorn server so it can be down, and come back, on its address.
What a user relies on: an event sent while its subscriber is down arrives when it is back,
once; a replay changes nothing; nobody but the producer can deliver its events; a rolled-back
change announces nothing; replicas delivering the same outbox never send an event twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Table, func, select

from mamori_common.db import Database
from mamori_common.events import BackoffPolicy, Outbox, OutboxDispatcher, parked_events
from mamori_common.internal_http import ServiceReplicas
from mamori_common.migrations import upgrade
from mamori_common.problems import PROBLEM_MEDIA_TYPE
from mamori_common.service_auth import mint_service_token
from mamori_common.service_keys import ServiceKey
from services.auth import main as auth_main
from services.auth.config import AuthSettings
from services.auth.database import outbox as auth_outbox_table
from services.auth.events import ACCOUNT_LOCKED, EVENT_ROUTES, SESSION_COMPROMISED
from services.verification import main as verification_main
from services.verification.config import VerificationSettings
from services.verification.database import inbox as verification_inbox_table
from tests.support.servers import CountingSubscriber, free_port, serve, wait_until
from tests.support.service_keys import key_of, service_token

FAST_BACKOFF = BackoffPolicy(base_seconds=0.05, max_seconds=0.2)


# --------------------------------------------------------------------------- helpers


def make_producer(data_dir: Path, verification_url: str) -> FastAPI:
    settings = AuthSettings(
        data_dir=data_dir,
        verification_url=verification_url,
        orders_url=verification_url,
        outbox_poll_interval=0.05,
    )
    return auth_main.create_app(settings, migrate=True, backoff=FAST_BACKOFF)


def make_subscriber(data_dir: Path) -> FastAPI:
    return verification_main.create_app(VerificationSettings(data_dir=data_dir), migrate=True)


def publish(app: FastAPI, event_type: str, payload: dict[str, Any]) -> str:
    """Publish in a committed transaction, as a route does alongside its change."""
    with app.state.db.session() as session, session.begin():
        return str(app.state.outbox.publish(session, event_type, payload))


def outbox_row(app: FastAPI, event_id: str, subscriber: str = "verification") -> Any:
    table: Table = app.state.outbox.table
    with app.state.db.session() as session:
        mine = (table.c.event_id == event_id) & (table.c.subscriber == subscriber)
        return session.execute(select(table).where(mine)).one_or_none()


def inbox_rows(app: FastAPI) -> list[Any]:
    with app.state.db.session() as session:
        return list(session.execute(select(verification_inbox_table).order_by(verification_inbox_table.c.received_at)))


def delivered(app: FastAPI, event_id: str) -> Any:
    row = outbox_row(app, event_id)
    return row if row is not None and row.delivered_at is not None else None


def failed_at_least_once(app: FastAPI, event_id: str) -> Any:
    row = outbox_row(app, event_id)
    return row if row is not None and row.attempts >= 1 and row.delivered_at is None else None


def envelope(event_id: str = "evt0001", source: str = "auth", payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": ACCOUNT_LOCKED,
        "source": source,
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": payload if payload is not None else {"account_id": "acc-1", "case_id": "case-1"},
    }


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def subscriber_port() -> int:
    return free_port()


@pytest.fixture
def producer(data_dir: Path, subscriber_port: int) -> Iterator[FastAPI]:
    """Auth with its dispatcher running (the TestClient runs the app's lifespan)."""
    app = make_producer(data_dir, f"http://127.0.0.1:{subscriber_port}")
    with TestClient(app):
        yield app


@pytest.fixture
def subscriber(data_dir: Path) -> FastAPI:
    """Verification, migrated but not serving yet: the test decides when it is up."""
    return make_subscriber(data_dir)


# --------------------------------------------------------------------------- (a) down, then back


def test_event_sent_while_subscriber_not_started_arrives_once_it_starts(
    producer: FastAPI, subscriber: FastAPI, subscriber_port: int
) -> None:
    payload = {"account_id": "acc-42", "case_id": "case-42", "reason": "failed_step_ups"}
    event_id = publish(producer, ACCOUNT_LOCKED, payload)

    failing = wait_until(lambda: failed_at_least_once(producer, event_id), what="a failed delivery attempt")
    assert failing.last_error, "a failed attempt says why"
    assert inbox_rows(subscriber) == []

    with serve(subscriber, subscriber_port):
        row = wait_until(lambda: delivered(producer, event_id), what="delivery after the subscriber started")
        received = inbox_rows(subscriber)

    assert row.attempts >= 1
    assert row.last_error is None
    assert [(item.event_id, item.source, item.event_type) for item in received] == [(event_id, "auth", ACCOUNT_LOCKED)]
    assert received[0].payload == payload


def test_event_sent_while_subscriber_stopped_arrives_once_it_restarts(
    producer: FastAPI, subscriber: FastAPI, subscriber_port: int, data_dir: Path
) -> None:
    with serve(subscriber, subscriber_port):
        first = publish(producer, ACCOUNT_LOCKED, {"account_id": "acc-1"})
        assert wait_until(lambda: delivered(producer, first)).attempts == 0  # delivered at once

    second = publish(producer, ACCOUNT_LOCKED, {"account_id": "acc-2"})
    wait_until(lambda: failed_at_least_once(producer, second), what="a failed attempt while stopped")

    restarted = make_subscriber(data_dir)  # a new process on the same database and address
    with serve(restarted, subscriber_port):
        row = wait_until(lambda: delivered(producer, second), what="delivery after the restart")
        # Give a wrongly repeated delivery the chance to show up before counting.
        third = publish(producer, ACCOUNT_LOCKED, {"account_id": "acc-3"})
        wait_until(lambda: delivered(producer, third))

    assert row.attempts >= 1
    ids = [item.event_id for item in inbox_rows(restarted)]
    assert sorted(ids) == sorted([first, second, third])
    assert Counter(ids) == Counter({first: 1, second: 1, third: 1})


def test_event_committed_while_the_producer_is_stopped_leaves_when_it_runs_again(
    data_dir: Path, subscriber: FastAPI, subscriber_port: int
) -> None:
    url = f"http://127.0.0.1:{subscriber_port}"
    stopped = make_producer(data_dir, url)
    with TestClient(stopped):
        ...  # started and stopped: its dispatcher's loop is gone
    # E.g. a command-line tool or a request finishing during shutdown: the commit must succeed.
    event_id = publish(stopped, ACCOUNT_LOCKED, {"account_id": "acc-7"})
    assert outbox_row(stopped, event_id).delivered_at is None

    with serve(subscriber, subscriber_port), TestClient(make_producer(data_dir, url)) as restarted:
        producer = restarted.app
        assert isinstance(producer, FastAPI)
        wait_until(lambda: delivered(producer, event_id), what="delivery by the restarted producer")
        assert [row.event_id for row in inbox_rows(subscriber)] == [event_id]


# --------------------------------------------------------------------------- (b) replays


def test_replayed_delivery_changes_nothing(subscriber: FastAPI) -> None:
    with TestClient(subscriber) as client:
        first = client.post(
            "/internal/events", json=envelope("evtreplay1"), headers=bearer(service_token(subscriber, "auth"))
        )
        replay = client.post(
            "/internal/events",
            json=envelope("evtreplay1", payload={"account_id": "someone-else"}),
            headers=bearer(service_token(subscriber, "auth")),
        )

    assert first.status_code == 200, first.text
    assert first.json() == {"status": "applied", "event_id": "evtreplay1"}  # verification opens the lockout case
    assert replay.status_code == 200, replay.text
    assert replay.json() == {"status": "duplicate", "event_id": "evtreplay1"}
    rows = inbox_rows(subscriber)
    assert len(rows) == 1
    assert rows[0].payload == {"account_id": "acc-1", "case_id": "case-1"}, "the replay did not overwrite the first"


# --------------------------------------------------------------------------- (c) who may deliver


def _expired_token(key: ServiceKey) -> str:
    past = int(time.time()) - 3600
    claims = {"iss": "auth", "aud": "verification", "sub": "service:auth", "iat": past, "exp": past + 60}
    return jwt.encode(claims, key.private_key, algorithm="EdDSA")


def _former_shared_secret_token() -> str:
    """What every process signed with before each service had its own key: HS256, one secret."""
    now = int(time.time())
    claims = {"iss": "auth", "aud": "verification", "sub": "service:auth", "iat": now, "exp": now + 60}
    return jwt.encode(claims, "the-former-shared-service-secret-0123456789", algorithm="HS256")


@pytest.mark.parametrize(
    "make_headers",
    [
        pytest.param(lambda key: {}, id="no-token"),
        pytest.param(lambda key: {"authorization": "Basic YXV0aDphdXRo"}, id="not-bearer"),
        pytest.param(lambda key: bearer("not.a.jwt"), id="garbage"),
        pytest.param(
            lambda key: bearer(mint_service_token(ServiceKey("auth", Ed25519PrivateKey.generate()), "verification")),
            id="another-deployments-key",
        ),
        pytest.param(lambda key: bearer(mint_service_token(key, "orders")), id="wrong-audience"),
        pytest.param(lambda key: bearer(_expired_token(key)), id="expired"),
        pytest.param(lambda key: bearer(_former_shared_secret_token()), id="old-shared-hs256-secret"),
    ],
)
def test_delivery_without_a_valid_service_token_is_refused(subscriber: FastAPI, make_headers: Any) -> None:
    with TestClient(subscriber) as client:
        response = client.post("/internal/events", json=envelope(), headers=make_headers(key_of(subscriber, "auth")))

    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert response.json()["code"] == "invalid_service_token"
    assert inbox_rows(subscriber) == []


def test_service_cannot_deliver_another_services_event(subscriber: FastAPI) -> None:
    token = service_token(subscriber, "orders")
    with TestClient(subscriber) as client:
        response = client.post("/internal/events", json=envelope(source="auth"), headers=bearer(token))

    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert response.json()["code"] == "wrong_event_source"
    assert inbox_rows(subscriber) == []


def test_an_event_type_from_a_source_not_on_its_list_is_refused(subscriber: FastAPI) -> None:
    """Orders may deliver orders' events, not auth's kind: ``account.locked`` is auth's alone, so
    orders (signing as itself, naming itself) cannot open a lockout case."""
    with TestClient(subscriber) as client:
        response = client.post(
            "/internal/events", json=envelope(source="orders"), headers=bearer(service_token(subscriber, "orders"))
        )
        unknown = client.post(
            "/internal/events",
            json={**envelope("evt-unknown"), "type": "account.deleted"},
            headers=bearer(service_token(subscriber, "auth")),
        )

    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert response.json()["code"] == "event_source_not_allowed"
    assert unknown.status_code == 403 and unknown.json()["code"] == "event_source_not_allowed", unknown.text
    assert inbox_rows(subscriber) == []


def test_orders_signing_as_auth_cannot_deliver_auths_event(subscriber: FastAPI) -> None:
    """Orders' own key, a token that says ``iss=auth``: checked against auth's key, it fails."""
    orders_key = key_of(subscriber, "orders")
    key_of(subscriber, "auth")  # auth's key exists too: the refusal is the signature, not a missing key
    forged = mint_service_token(ServiceKey("auth", orders_key.private_key), "verification")
    with TestClient(subscriber) as client:
        response = client.post("/internal/events", json=envelope(), headers=bearer(forged))
    assert response.status_code == 401 and response.json()["code"] == "invalid_service_token", response.text
    assert inbox_rows(subscriber) == []


def test_a_service_that_publishes_nothing_here_cannot_deliver(subscriber: FastAPI) -> None:
    """Verification takes events from auth and orders only; its own key gets it nowhere."""
    own = {**envelope(source="verification"), "type": "case.opened"}
    with TestClient(subscriber) as client:
        response = client.post("/internal/events", json=own, headers=bearer(service_token(subscriber, "verification")))
    assert response.status_code == 403 and response.json()["code"] == "caller_not_allowed", response.text
    assert inbox_rows(subscriber) == []


# --------------------------------------------------------------------------- (d) rollback


def test_rolled_back_transaction_sends_nothing(data_dir: Path) -> None:
    counting = CountingSubscriber()
    with serve(counting) as server:
        producer = make_producer(data_dir, server.url)
        with TestClient(producer):
            rolled_back_ids: list[str] = []
            with pytest.raises(RuntimeError, match="the change failed"):
                with producer.state.db.session() as session, session.begin():
                    rolled_back_ids.append(producer.state.outbox.publish(session, ACCOUNT_LOCKED, {"account_id": "x"}))
                    raise RuntimeError("the change failed")
            # A committed event published after it: once it has arrived, the dispatcher has had
            # every chance to send the rolled-back one too.
            marker = publish(producer, ACCOUNT_LOCKED, {"account_id": "y"})
            wait_until(lambda: delivered(producer, marker), what="the committed event")

            assert outbox_row(producer, rolled_back_ids[0]) is None
    assert counting.event_ids() == [marker]


# --------------------------------------------------------------------------- (e) two dispatchers


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def outbox_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Auth's migrated database, on SQLite or (when configured) a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'auth.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    upgrade(auth_main.SPEC.migrations_dir, url)
    return url


def test_two_dispatchers_deliver_each_event_exactly_once(outbox_database_url: str) -> None:
    outbox = Outbox("auth", auth_outbox_table, EVENT_ROUTES)
    writer = Database(outbox_database_url)
    expected: list[tuple[str, str]] = []
    try:
        # 200 events, in transactions of various sizes; session.compromised goes to two subscribers.
        for batch in range(20):
            with writer.session() as session, session.begin():
                for index in range(10):
                    event_type = SESSION_COMPROMISED if index % 4 == 0 else ACCOUNT_LOCKED
                    event_id = outbox.publish(session, event_type, {"batch": batch, "index": index})
                    expected += [(event_id, subscriber) for subscriber in EVENT_ROUTES[event_type]]
    finally:
        writer.dispose()

    counting = CountingSubscriber()
    with serve(counting) as server:
        asyncio.run(_run_two_dispatchers(outbox_database_url, outbox, server.url, len(expected)))

    # Every (event, subscriber) pair crossed the wire exactly once.
    seen = Counter((item.body["id"], item.path.split("/")[2]) for item in counting.received)
    assert sum(seen.values()) == len(expected), f"{sum(seen.values()) - len(expected)} extra deliveries"
    assert set(seen) == set(expected)
    assert max(seen.values()) == 1, [pair for pair, count in seen.items() if count > 1][:5]
    # Both replicas did part of the work (the point of running two).
    by_dispatcher = Counter(item.path.split("/")[1] for item in counting.received)
    assert set(by_dispatcher) == {"d1", "d2"}, by_dispatcher


def _tagged(subscriber_base: str, tag: str) -> ServiceReplicas:
    """A dispatcher's subscriber URL, tagged so the subscriber sees which dispatcher delivered."""
    return ServiceReplicas(lambda subscriber: [f"{subscriber_base}/{tag}/{subscriber}"])


async def _run_two_dispatchers(url: str, outbox: Outbox, subscriber_base: str, total: int) -> None:
    databases = [Database(url), Database(url)]  # one engine each, like two replicas
    dispatchers = [
        OutboxDispatcher(
            database=database,
            outbox=outbox,
            key=ServiceKey("auth", Ed25519PrivateKey.generate()),
            subscribers=_tagged(subscriber_base, tag),
            poll_interval=0.02,
            batch_size=7,
            backoff=FAST_BACKOFF,
        )
        for tag, database in zip(("d1", "d2"), databases, strict=False)
    ]
    tasks = [asyncio.create_task(dispatcher.run_forever()) for dispatcher in dispatchers]
    table = outbox.table
    try:
        deadline = time.monotonic() + 60
        while True:
            with databases[0].session() as session:
                remaining = session.scalar(
                    select(func.count()).select_from(table).where(table.c.delivered_at.is_(None))
                )
            if remaining == 0:
                break
            assert time.monotonic() < deadline, f"{remaining} of {total} still undelivered"
            await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for database in databases:
            database.dispose()
    reader = Database(url)
    try:
        with reader.session() as session:
            rows = session.execute(select(table.c.attempts, table.c.last_error)).all()
    finally:
        reader.dispose()
    assert len(rows) == total
    assert all(row.attempts == 0 and row.last_error is None for row in rows), "no delivery failed"


def test_a_dispatcher_claims_one_batch_at_a_time(outbox_database_url: str) -> None:
    """A replica takes ``batch_size`` events per claim and leaves the rest to the others."""
    outbox = Outbox("auth", auth_outbox_table, EVENT_ROUTES)
    database = Database(outbox_database_url)
    try:
        with database.session() as session, session.begin():
            for index in range(40):
                outbox.publish(session, ACCOUNT_LOCKED, {"index": index})
        dispatcher = OutboxDispatcher(
            database=database,
            outbox=outbox,
            key=ServiceKey("auth", Ed25519PrivateKey.generate()),
            subscribers=ServiceReplicas(lambda name: ["http://127.0.0.1:9"]),
            batch_size=7,
        )
        first = dispatcher._claim("claim-one")
        second = dispatcher._claim("claim-two")
    finally:
        database.dispose()
    assert len(first) == 7
    assert len(second) == 7
    assert not {item.id for item in first} & {item.id for item in second}, "a claimed event is not claimed again"


# --------------------------------------------------------------------------- parking and the inbox key


def test_an_event_that_keeps_failing_is_parked_counted_and_listed(
    outbox_database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After ``max_attempts`` failed deliveries (or once ``max_age`` old, on the app clock) the
    dispatcher gives up: the row is parked, never claimed again, counted, and ``mamori events`` lists it."""
    from prometheus_client import CollectorRegistry
    from prometheus_client import Counter as PromCounter

    from infra import cli
    from mamori_common.clock import ManualClock

    clock = ManualClock()
    outbox = Outbox("auth", auth_outbox_table, EVENT_ROUTES, clock)
    database = Database(outbox_database_url)
    registry = CollectorRegistry()
    parked = PromCounter("mamori_events_parked_total", "parked", ["subscriber", "event_type"], registry=registry)
    try:
        with database.session() as session, session.begin():
            tired = outbox.publish(session, ACCOUNT_LOCKED, {"n": 1})
        dispatcher = OutboxDispatcher(
            database=database,
            outbox=outbox,
            key=ServiceKey("auth", Ed25519PrivateKey.generate()),
            subscribers=ServiceReplicas(lambda name: ["http://127.0.0.1:9"]),
            max_attempts=2,
            max_age=timedelta(hours=1),
            clock=clock,
            parked_counter=parked,
            backoff=BackoffPolicy(base_seconds=1, max_seconds=1),
        )
        failure = "ConnectError: refused"
        first = dispatcher._claim("c1")
        dispatcher._record("c1", [(item, failure) for item in first])
        assert dispatcher._claim("c2") == []  # waiting out its backoff on the app clock
        clock.advance(seconds=2)
        second = dispatcher._claim("c3")
        dispatcher._record("c3", [(item, failure) for item in second])
        clock.advance(hours=2)
        assert dispatcher._claim("c4") == []  # parked: never claimed again

        with database.session() as session, session.begin():
            old = outbox.publish(session, ACCOUNT_LOCKED, {"n": 2})
        clock.advance(hours=1)  # too old after one more failure, though it failed only once
        third = dispatcher._claim("c5")
        dispatcher._record("c5", [(item, failure) for item in third])
        listed = parked_events(database, auth_outbox_table)
    finally:
        database.dispose()
    assert {row["event_id"] for row in listed} == {tired, old}
    assert (
        registry.get_sample_value(
            "mamori_events_parked_total", {"subscriber": "verification", "event_type": ACCOUNT_LOCKED}
        )
        == 2
    )
    if outbox_database_url.startswith("sqlite"):
        monkeypatch.setenv("MAMORI_AUTH_DATABASE_URL", outbox_database_url)
        assert cli.main(["events", "--service", "auth"]) == 0
        printed = capsys.readouterr().out
        assert tired in printed and old in printed and "ConnectError" in printed


def test_the_inbox_tells_events_apart_by_source_and_id(subscriber: FastAPI) -> None:
    """Publishers choose their ids: the same id from two services is two events."""
    held = {"type": "payment.held", "payload": {"account_id": "acc-1", "order_id": "o-1", "amount": 500, "reasons": []}}
    with TestClient(subscriber) as client:
        locked = client.post(
            "/internal/events",
            json=envelope("same-id", source="auth"),
            headers=bearer(service_token(subscriber, "auth")),
        )
        assert locked.json()["status"] == "applied", locked.text
        for expected in ("applied", "duplicate"):
            answer = client.post(
                "/internal/events",
                json={**envelope("same-id", source="orders"), **held},
                headers=bearer(service_token(subscriber, "orders")),
            )
            assert answer.json()["status"] == expected, answer.text
    assert sorted(row.source for row in inbox_rows(subscriber)) == ["auth", "orders"]
