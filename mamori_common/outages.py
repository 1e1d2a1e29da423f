"""A lost database or Redis is a 503 the client may retry, never a 500.

PostgreSQL restarting, a failover, a full connection pool or Redis blinking are not bugs in the
request: the same request succeeds once the dependency is back. So every service answers them
the same way, ``503`` with ``Retry-After`` and a stable ``code`` (``database_unavailable``,
``store_unavailable``), from one place: :func:`outage_problem` decides, and the problem handlers
(``mamori_common/problems.py``) answer with it wherever the error surfaced, in a route or in a
middleware that runs before routing.

Recovery needs nothing from here: engines ping a pooled connection before using it
(``pool_pre_ping``, ``mamori_common/db.py``), so once the server is back the next request gets a
fresh connection, and Redis clients reconnect on their own.
"""

from __future__ import annotations

import sqlite3

import redis.exceptions
from sqlalchemy import exc as sa_exc

from mamori_common.problems import Problem

#: Seconds a client is asked to wait: a restart or failover takes a few.
RETRY_AFTER_SECONDS = 5

_DATABASE_GONE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,  # connection refused or lost, server shutting down, sqlite locked
    sa_exc.InterfaceError,  # the connection was closed under us
    sa_exc.TimeoutError,  # no pooled connection freed up in time
)
_STORE_GONE: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _database_driver_errors() -> tuple[type[Exception], ...]:
    """The drivers' own classes, for code that used a raw DBAPI connection."""
    found: list[type[Exception]] = [sqlite3.OperationalError]
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return tuple(found)
    found += [psycopg.OperationalError, psycopg.InterfaceError]
    return tuple(found)


_DATABASE_GONE += _database_driver_errors()


#: Error classes the app registers the 503 handler for (it still checks each one: an
#: ``sa_exc.DBAPIError`` is an outage only when its connection was invalidated).
OUTAGE_ERRORS: tuple[type[Exception], ...] = (sa_exc.DBAPIError, *_DATABASE_GONE, *_STORE_GONE)


def is_database_outage(error: BaseException) -> bool:
    if isinstance(error, _DATABASE_GONE):
        return True
    return isinstance(error, sa_exc.DBAPIError) and bool(error.connection_invalidated)


def outage_problem(error: BaseException) -> Problem | None:
    """The 503 to answer when ``error`` (or what caused it) means a dependency is gone, else None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if is_database_outage(current):
            return Problem(
                503,
                "database_unavailable",
                "The database is not answering just now. Nothing was changed; please try again shortly.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        if isinstance(current, _STORE_GONE):
            return Problem(
                503,
                "store_unavailable",
                "A store this service needs is not answering just now. Please try again shortly.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        current = current.__cause__ or current.__context__
    return None
