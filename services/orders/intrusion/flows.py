"""``session.compromised`` (story S2): undo every order the intruder's sessions placed, at once.

Every order from the named sessions is taken out of the intruder's hands: unshipped lines
cancelled and refunded, shipped ones turned into a return (refunded when it is back),
subscriptions cancelled and refunded in full. Each order's actions go to the intrusion case
(``case.activity``) and the customer gets one notice straight away, in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from mamori_common import contract
from mamori_common.events import EventEnvelope
from services.orders import announce
from services.orders.catalogue import intrusion_notice
from services.orders.context import context_of, parse_event
from services.orders.intrusion.undo import UndoReport, undo_fraudulent_order
from services.orders.ordering.models import Order, OrderState
from services.orders.ordering.service import lock_order
from services.orders.summaries import action_lines, action_words, order_label


class Window(BaseModel):
    model_config = ConfigDict(extra="allow")

    #: When the suspicious activity began (the intruder's sign-in, the first undone change).
    start: datetime = Field(alias="from")


class SessionCompromised(BaseModel):
    """What orders reads of auth's ``session.compromised``.

    ``session_ids`` are every session auth ended (the owner's own too); ``suspicious_session_ids``
    the intruder's. When auth names suspects, an order is undone if a suspect placed it, or if any
    ended session placed it inside the window (a stolen refresh token of the owner's session):
    the owner's own orders from before the intrusion stand. Without suspects (an older producer),
    every order of the ended sessions is undone.
    """

    model_config = ConfigDict(extra="allow")

    account_id: str = Field(min_length=1, max_length=32)
    case_id: str = Field(default="", max_length=64)
    session_ids: list[str] = Field(default_factory=list, max_length=10_000)
    suspicious_session_ids: list[str] | None = Field(default=None, max_length=10_000)
    window: Window | None = None


def _whose_orders(event: SessionCompromised) -> ColumnElement[bool]:
    if event.suspicious_session_ids is None:
        return Order.session_id.in_(event.session_ids)
    suspects = Order.session_id.in_(event.suspicious_session_ids)
    if event.window is None:
        return suspects
    in_window = Order.session_id.in_(event.session_ids) & (Order.created_at >= event.window.start)
    return or_(suspects, in_window)


def handle_session_compromised(db: Session, envelope: EventEnvelope) -> None:
    event = parse_event(SessionCompromised, envelope)
    account_id, case_id = event.account_id, event.case_id
    context = context_of(db)
    order_ids = db.scalars(
        select(Order.id)
        .where(Order.account_id == account_id, _whose_orders(event))
        .order_by(Order.created_at, Order.id)
    ).all()
    lines_ja: list[str] = []
    lines_en: list[str] = []
    data: dict[str, object] = {}
    for index, order_id in enumerate(order_ids):
        order = lock_order(db, order_id)
        order.compromised_case_id = case_id or None
        if order.state == OrderState.cancelled.value:
            continue
        report = undo_fraudulent_order(db, context, order, "intrusion")
        ja, en, more = action_lines(order, report, index + 1)
        lines_ja += ja
        lines_en += en
        data.update(more)
        if case_id:
            _report_to_case(db, case_id, account_id, order, report)
    if lines_ja:
        announce.notify(
            db,
            account_id,
            intrusion_notice(lines_ja, lines_en, contract.case_number(case_id) if case_id else "-"),
            data,
        )


def _report_to_case(db: Session, case_id: str, account_id: str, order: Order, report: UndoReport) -> None:
    label = order_label(order)
    refund = report.refund.amount if report.refund else 0
    announce.case_activity(
        db,
        case_id,
        account_id,
        summary_ja=f"注文 {label}: "
        + "、".join(words.ja for words in action_words(report))
        + (f"（返金 {refund:,}円）" if refund else ""),
        summary_en=f"Order {label}: "
        + ", ".join(words.en for words in action_words(report))
        + (f" (refund ¥{refund:,})" if refund else ""),
        details={
            "order_id": order.id,
            "actions": report.actions(),
            "refund_amount": refund,
            "return_id": report.return_id,
        },
    )
