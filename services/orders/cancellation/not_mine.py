"""``reportNotMine`` (story S4): the customer says an order is not theirs.

Orders undoes what it can (cancel, return, refund each tender), tells verification to open a
"not me" case (``order.reported_not_mine`` with what was done and the case id orders minted), asks
auth for a step-up at the next sign-in (``account.stepup_required``), and tells the customer. It
never freezes the account: in S4 the store's silent second lock-out was the harm.

**Once per order.** The first report is kept (``NotMineReport``, unique per order); a repeat,
sequential or concurrent, is answered from it: the same case, and no new case, step-up, mail or
refund. The order's row lock serialises reports on PostgreSQL; the unique constraint decides
where there is no row lock (SQLite), the loser reading the winner's report.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mamori_common import contract
from services.orders import announce
from services.orders.cancellation.models import NotMineReport
from services.orders.catalogue import not_mine_notice
from services.orders.context import OrdersContext
from services.orders.intrusion.undo import undo_fraudulent_order
from services.orders.ordering.models import new_id
from services.orders.ordering.service import lock_order
from services.orders.summaries import action_lines


def report_not_mine(db: Session, context: OrdersContext, account_id: str, order_id: str) -> NotMineReport:
    """The order's report: made now by the first call, the same one for every later call."""
    order = lock_order(db, order_id, account_id)
    earlier = _report_of(db, order.id)
    if earlier is not None:
        return earlier
    kept = NotMineReport(
        order_id=order.id, account_id=account_id, case_id=new_id(), actions=[], reported_at=context.clock.now()
    )
    try:
        with db.begin_nested():
            db.add(kept)
    except IntegrityError:  # a concurrent report of the same order was first
        winner = _report_of(db, order.id)
        assert winner is not None
        return winner
    report = undo_fraudulent_order(db, context, order, "not_mine")
    kept.actions = report.actions()
    kept.refund_id = report.refund.id if report.refund is not None else None
    kept.return_id = report.return_id
    announce.reported_not_mine(
        db,
        contract.OrderReportedNotMine(
            order_id=order.id, account_id=account_id, actions=kept.actions, case_id=kept.case_id
        ),
    )
    announce.step_up_required(db, contract.StepUpRequired(account_id=account_id, reason="order_reported_not_mine"))
    lines_ja, lines_en, data = action_lines(order, report)
    announce.notify(db, account_id, not_mine_notice(lines_ja, lines_en), data)
    return kept


def _report_of(db: Session, order_id: str) -> NotMineReport | None:
    return db.scalar(select(NotMineReport).where(NotMineReport.order_id == order_id))
