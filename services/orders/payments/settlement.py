"""Carrying out queued payment tasks (capture, void, card refund) with the provider.

Tasks are written in the same transaction as the order change that needs them, so none is lost;
this module runs them *outside* any transaction of ours (a provider call is not part of our
database), with the task id as the provider's idempotency key, so a retry after a failure or a
timeout, or two replicas running the same task at once, never moves money twice. Tasks of one
tender run in the order they were queued (a capture before the refund of it); a failure stops
that tender's queue until its retry is due, with doubling, capped backoff.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mamori_common.db import Database
from services.orders.ordering.models import Tender
from services.orders.payments.models import PaymentTask, TaskAction
from services.orders.payments.provider import PaymentProvider, ProviderError, ProviderUnavailable
from services.orders.refunds.models import RefundPart

logger = logging.getLogger("mamori.orders.settlement")


def queue_task(
    db: Session, tender: Tender, action: TaskAction, amount: int, now: datetime, refund_part_id: str | None = None
) -> PaymentTask:
    """Queue a provider call in the caller's transaction (which holds the order's lock)."""
    last = db.scalar(select(func.max(PaymentTask.seq)).where(PaymentTask.tender_id == tender.id))
    task = PaymentTask(
        tender_id=tender.id,
        seq=(last or 0) + 1,
        action=action,
        amount=amount,
        refund_part_id=refund_part_id,
        state="pending",
        attempts=0,
        next_attempt_at=now,
    )
    db.add(task)
    return task


def retry_delay(attempts: int, base: float, cap: float) -> timedelta:
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def settle(
    database: Database,
    provider: PaymentProvider,
    now: datetime,
    *,
    base_delay: float = 2.0,
    max_delay: float = 300.0,
    order_ids: Iterable[str] | None = None,
) -> int:
    """Run the due pending tasks (of ``order_ids`` only, when given); how many were completed."""
    with database.session() as session:
        query = (
            select(PaymentTask, Tender)
            .join(Tender, Tender.id == PaymentTask.tender_id)
            .where(PaymentTask.state == "pending", PaymentTask.next_attempt_at <= now)
        )
        if order_ids is not None:
            query = query.where(Tender.order_id.in_(list(order_ids)))
        rows = session.execute(query.order_by(PaymentTask.tender_id, PaymentTask.seq)).all()
    by_tender: dict[str, list[tuple[PaymentTask, Tender]]] = defaultdict(list)
    for task, tender in rows:
        by_tender[tender.id].append((task, tender))
    completed = 0
    for queue in by_tender.values():
        for task, tender in queue:
            if not _run(database, provider, task, tender, now, base_delay, max_delay):
                break
            completed += 1
    return completed


def _run(
    database: Database,
    provider: PaymentProvider,
    task: PaymentTask,
    tender: Tender,
    now: datetime,
    base_delay: float,
    max_delay: float,
) -> bool:
    assert tender.authorisation_id is not None, "only card tenders have provider tasks"
    try:
        if task.action == TaskAction.capture:
            provider.capture(task.id, tender.authorisation_id, task.amount)
        elif task.action == TaskAction.void:
            provider.void(task.id, tender.authorisation_id)
        else:
            provider.refund(task.id, tender.authorisation_id, task.amount)
    except ProviderUnavailable as exc:
        _record_failure(database, task.id, str(exc), now, base_delay, max_delay, final=False)
        return False
    except ProviderError as exc:
        # A refusal is a bookkeeping error on our side: kept visible, never retried blindly.
        logger.error("payment task refused", extra={"task_id": task.id, "code": exc.code})
        _record_failure(database, task.id, exc.code, now, base_delay, max_delay, final=True)
        return False
    with database.session() as session, session.begin():
        stored = session.get(PaymentTask, task.id)
        if stored is not None and stored.state == "pending":
            stored.state = "done"
            stored.done_at = now
            if stored.refund_part_id:
                part = session.get(RefundPart, stored.refund_part_id)
                if part is not None:
                    part.state = "done"
                    part.settled_at = now
    return True


def _record_failure(
    database: Database, task_id: str, error: str, now: datetime, base_delay: float, max_delay: float, *, final: bool
) -> None:
    with database.session() as session, session.begin():
        stored = session.get(PaymentTask, task_id)
        if stored is None or stored.state != "pending":
            return
        stored.attempts += 1
        stored.last_error = error[:500]
        if final:
            stored.state = "refused"
        else:
            stored.next_attempt_at = now + retry_delay(stored.attempts, base_delay, max_delay)
