"""``reportNotMine`` (story S4): the customer says an order is not theirs.

Orders undoes what it can (cancel, return, refund each tender), tells verification to open a
"not me" case (``order.reported_not_mine`` with what was done), asks auth for a step-up at the next
sign-in (``account.stepup_required``), and tells the customer. It never freezes the account: in S4
the store's silent second lock-out was the harm.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from mamori_common import contract
from services.orders import announce
from services.orders.cancellation.flows import UndoReport, undo_fraudulent_order
from services.orders.catalogue import not_mine_notice
from services.orders.context import OrdersContext
from services.orders.ordering.service import lock_order
from services.orders.summaries import action_lines


def report_not_mine(db: Session, context: OrdersContext, account_id: str, order_id: str) -> UndoReport:
    order = lock_order(db, order_id, account_id)
    report = undo_fraudulent_order(db, context, order, "not_mine")
    announce.reported_not_mine(
        db, contract.OrderReportedNotMine(order_id=order.id, account_id=account_id, actions=report.actions())
    )
    announce.step_up_required(db, contract.StepUpRequired(account_id=account_id, reason="order_reported_not_mine"))
    lines_ja, lines_en, data = action_lines(order, report)
    announce.notify(db, account_id, not_mine_notice(lines_ja, lines_en), data)
    return report
