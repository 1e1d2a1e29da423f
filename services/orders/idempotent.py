"""The one way orders' unsafe routes run: under ``Idempotency-Key``, then settle payments.

Work runs in one transaction with its stored answer (``mamori_common.idempotency``); the payment
tasks it queued are carried out right after the commit (and retried by the background job).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from mamori_common.idempotency import Work, request_fingerprint, run_idempotent
from services.orders.context import OrdersContext
from services.orders.database import idempotency_keys

logger = logging.getLogger("mamori.orders")


def run_unsafe(
    request: Request,
    session: Session,
    *,
    key: str | None,
    scope: str,
    operation: str,
    body: Any,
    work: Work,
    settle_orders: Callable[[], list[str]] | None = None,
    after: Callable[[], None] | None = None,
) -> JSONResponse:
    context: OrdersContext = request.app.state.orders
    try:
        response = run_idempotent(
            idempotency_keys,
            session,
            key=key,
            scope=scope,
            fingerprint=request_fingerprint(operation, body),
            now=context.now(),
            work=work,
            ttl=timedelta(seconds=context.settings.idempotency_ttl_seconds),
        )
    finally:
        if after is not None:
            after()
    try:
        context.settle(settle_orders() if settle_orders else None)
    except Exception:  # the change is committed; the payment retry job carries its tasks out later
        logger.exception("settling payment tasks after a request failed")
    return response
