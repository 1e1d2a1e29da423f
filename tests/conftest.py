"""Fixtures shared by the whole suite.

PostgreSQL and Redis tests run only when ``MAMORI_TEST_POSTGRES_URL`` / ``MAMORI_TEST_REDIS_URL``
are set (``.ci/run`` sets both); each PostgreSQL test gets a database of its own, dropped after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mamori_common.db import normalise_url


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data dir, used by every settings object built in the test."""
    directory = tmp_path / "var"
    directory.mkdir()
    monkeypatch.setenv("MAMORI_DATA_DIR", str(directory))
    return directory


def _postgres_admin_url() -> str:
    url = os.environ.get("MAMORI_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("MAMORI_TEST_POSTGRES_URL is not set")
    return normalise_url(url)


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database; yields its URL."""
    admin_url = _postgres_admin_url()
    name = f"mamori_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("MAMORI_TEST_REDIS_URL")
    if not url:
        pytest.skip("MAMORI_TEST_REDIS_URL is not set")
    return url
