"""Claiming a batch of due rows with a lease: the one mechanism behind the event dispatcher and the
mail sender, safe to run in every replica at once.

One statement: ``UPDATE ... WHERE key IN (candidates) AND <still due> RETURNING ...``. On
PostgreSQL the candidates are selected ``FOR UPDATE SKIP LOCKED``, so two replicas never take the
same row, and as a ``MATERIALIZED`` CTE, computed once: as a plain ``IN (subquery)`` PostgreSQL may
run it as the inner side of a nested loop, re-scanned for every outer row, each re-scan skipping
the rows this very statement has just updated, so the LIMIT applied per scan and one replica
claimed the whole table instead of one batch. On SQLite the one statement is atomic by itself.

The caller's ``due`` conditions must exclude rows under a live lease (the lease column in the
future), so a crashed replica's rows are taken over once its lease runs out; the caller then
records each outcome only where its own claim token still stands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, select, update

from mamori_common.db import Database


def claim_batch(
    database: Database,
    target: Any,
    *,
    key: Any,
    due: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    batch_size: int,
    lease: Mapping[str, Any],
    returning: Sequence[Any],
) -> list[Row[*tuple[Any, ...]]]:
    """Set ``lease`` (lease-until and claim-token values) on up to ``batch_size`` due rows; return them.

    ``target`` is the table (or mapped class) and ``key`` its primary-key column; ``returning`` the columns
    the caller needs. Rows come back in no particular order: sort them as the caller's order needs.
    """
    candidates = (
        select(key)
        .where(*due)
        .order_by(*order_by)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
        .cte("lease_candidates")
        .prefix_with("MATERIALIZED")
    )
    statement = (
        update(target)
        .where(key.in_(select(candidates.c[key.key])), *due)
        .values(**lease)
        .returning(*returning)
        .execution_options(synchronize_session=False)
    )
    with database.session() as session, session.begin():
        return list(session.execute(statement).all())
