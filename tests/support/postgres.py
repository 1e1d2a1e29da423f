"""Fresh PostgreSQL databases for a test that needs several (one per service)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mamori_common.db import normalise_url


@contextmanager
def fresh_databases(admin_url: str, purposes: Sequence[str]) -> Iterator[dict[str, str]]:
    """Create one empty database per purpose; yield purpose -> URL; drop them all after."""
    admin_url = normalise_url(admin_url)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    names = {purpose: f"mamori_test_{purpose}_{uuid.uuid4().hex[:8]}" for purpose in purposes}
    try:
        with admin.connect() as connection:
            for name in names.values():
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        base = make_url(admin_url)
        # Handed to other processes, which accept plain postgresql:// URLs (see normalise_url).
        yield {
            purpose: base.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
            for purpose, name in names.items()
        }
    finally:
        with admin.connect() as connection:
            for name in names.values():
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def emptied_redis(redis_url: str) -> str:
    """The test Redis database emptied, for a deployment of the production shape to start on: its
    counters are only quotas, and one left by an earlier run (a registration quota lasts an hour)
    would make the same suite fail when run twice within the hour."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_url
