"""Undoing an order someone else placed: cancel what can be, return what shipped, refund in full.

Used for a compromised session (``intrusion/flows.py``) and for "not me" (``cancellation/not_mine.py``);
it builds on cancellation (``cancel_lines``) and returns (``open_return``), which know nothing of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from services.orders.cancellation.flows import cancel_lines
from services.orders.context import OrdersContext
from services.orders.ordering.models import LineState, Order
from services.orders.refunds.models import Refund
from services.orders.returns.flows import open_return


@dataclass
class UndoReport:
    """What undoing an order someone else placed did, line by line (for the case and the customer)."""

    order_id: str
    cancelled_line_ids: list[str] = field(default_factory=list)
    return_id: str | None = None
    refund: Refund | None = None
    voided: bool = False
    kept: dict[str, str] = field(default_factory=dict)

    def actions(self) -> list[str]:
        done = []
        if self.cancelled_line_ids:
            done.append("cancelled")
        if self.refund is not None:
            done.append("refunded")
        if self.voided:
            done.append("authorisation_voided")
        if self.return_id:
            done.append("return_opened")
        done += [f"not_cancellable:{code}" for code in sorted(set(self.kept.values()))]
        return done


def undo_fraudulent_order(db: Session, context: OrdersContext, order: Order, reason: str) -> UndoReport:
    """Cancel what can be, open a return for what shipped, refund in full (subscriptions too)."""
    report = UndoReport(order.id)
    open_lines = [line for line in order.lines if line.state == LineState.open.value]
    outcome = cancel_lines(db, context, order, open_lines, reason=reason, fraudulent=True, strict=False)
    report.cancelled_line_ids = [line.id for line in outcome.cancelled]
    report.refund, report.voided = outcome.refund, outcome.voided
    report.kept = {line_id: refusal.value for line_id, refusal in outcome.refused.items()}
    shipped = [line for line in order.lines if line.state == LineState.shipped.value]
    if shipped:
        report.return_id = open_return(db, context, order, shipped, reason).id
    return report
