"""In-process orders service for the tests in this folder (SQLite in a temp data dir)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.orders.config import OrdersSettings
from tests.orders.harness import OrdersHarness, build


@pytest.fixture
def orders(data_dir: Path) -> Iterator[OrdersHarness]:
    app, standing, key, clock = build(OrdersSettings(data_dir=data_dir))
    with TestClient(app) as client:
        yield OrdersHarness(app, client, clock, standing, key)
