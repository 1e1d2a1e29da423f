"""A lock opens a lockout case: the ``account.locked`` event, carrying the case id the 423 named,
reaches verification (its real app, served over HTTP) through auth's outbox, once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Row, select

from mamori_common.clock import ManualClock
from mamori_common.events import BackoffPolicy
from services.auth.config import AuthSettings
from services.auth.main import create_app
from services.verification import main as verification_main
from services.verification.config import VerificationSettings
from services.verification.database import inbox as verification_inbox
from tests.auth.conftest import AuthHarness
from tests.support.auth_signin import lock_out, owner_signs_in_at_home
from tests.support.servers import ServerThread, serve, wait_until


@dataclass
class Verification:
    server: ServerThread
    app: FastAPI


@pytest.fixture
def verification(data_dir: Path) -> Iterator[Verification]:
    """Verification's own app (its own database, same data dir for the shared service secret)."""
    app = verification_main.create_app(VerificationSettings(data_dir=data_dir), migrate=True)
    with serve(app) as server:
        yield Verification(server, app)


@pytest.fixture
def auth_with_verification(data_dir: Path, verification: Verification) -> Iterator[AuthHarness]:
    clock = ManualClock()
    settings = AuthSettings(data_dir=data_dir, verification_url=verification.server.url, outbox_poll_interval=0.05)
    app = create_app(settings, migrate=True, clock=clock, backoff=BackoffPolicy(base_seconds=0.05, max_seconds=0.2))
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        yield AuthHarness(client=client, app=app, clock=clock, data_dir=data_dir, settings=settings)


def test_the_lockout_case_named_in_the_423_reaches_verification(
    auth_with_verification: AuthHarness, verification: Verification
) -> None:
    auth = auth_with_verification
    owner_signs_in_at_home(auth)

    case_id = lock_out(auth)["case_id"]

    database = verification.app.state.db

    def received() -> list[Row[Any]]:
        with database.session() as db:
            return list(
                db.execute(select(verification_inbox).where(verification_inbox.c.event_type == "account.locked"))
            )

    rows = wait_until(received, timeout=10, what="account.locked in verification's inbox")
    assert len(rows) == 1
    payload = rows[0].payload
    assert payload["case_id"] == case_id and payload["kind"] == "lockout"
    assert rows[0].source == "auth"
