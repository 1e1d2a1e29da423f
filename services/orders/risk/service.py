"""Gathering the facts the risk rules judge, from this order and the account's earlier orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from mamori_common.tokens import Principal
from services.orders.config import OrdersSettings
from services.orders.ordering.models import LineKind, Order, OrderLine, OrderState
from services.orders.risk.rules import OrderFacts

GIFT_KINDS = (LineKind.gift_card.value, LineKind.balance_top_up.value)


def _first_seen_today(
    db: Session, account_id: str, column: InstrumentedAttribute[str | None], value: str | None, now: datetime
) -> bool:
    """No earlier order of the account came from ``value`` before the last 24 hours."""
    if value is None:
        return False
    day_ago = now - timedelta(days=1)
    earlier = db.scalar(
        select(func.count())
        .select_from(Order)
        .where(
            Order.account_id == account_id,
            column == value,
            Order.created_at < day_ago,
        )
    )
    return not earlier


def order_facts(
    db: Session,
    *,
    account_id: str,
    lines: list[tuple[str, int]],
    total: int,
    account_holder: str,
    card_holder: str | None,
    device_id: str | None,
    country: str | None,
    now: datetime,
    settings: OrdersSettings,
    session_started_at: datetime | None = None,
    order_id: str | None = None,
) -> OrderFacts:
    """``lines``: (kind, amount) of the order being placed (``order_id``, not counted as earlier)."""
    window_start = now - timedelta(seconds=settings.risk_gift_or_top_up_window_seconds)
    has_cash_like_line = exists().where(OrderLine.order_id == Order.id, OrderLine.kind.in_(GIFT_KINDS))
    recent_cash_like = db.scalar(
        select(func.count())
        .select_from(Order)
        .where(
            Order.account_id == account_id,
            Order.created_at >= window_start,
            Order.state != OrderState.awaiting_confirmation.value,
            Order.id != (order_id or ""),
            has_cash_like_line,
        )
    )
    any_earlier = db.scalar(select(func.count()).select_from(Order).where(Order.account_id == account_id))
    return OrderFacts(
        total=total,
        gift_and_top_up_amount=sum(amount for kind, amount in lines if kind in GIFT_KINDS),
        has_gift_card=any(kind == LineKind.gift_card.value for kind, _ in lines),
        account_holder_name=account_holder,
        card_holder_name=card_holder,
        recent_gift_or_top_up_orders=int(recent_cash_like or 0),
        has_top_up=any(kind == LineKind.balance_top_up.value for kind, _ in lines),
        session_age_seconds=(now - session_started_at).total_seconds() if session_started_at else None,
        device_younger_than_a_day=_first_seen_today(db, account_id, Order.device_id, device_id, now),
        # A first order ever has no history to compare with: not "new" on that ground alone.
        device_first_seen_today=bool(any_earlier)
        and _first_seen_today(db, account_id, Order.device_id, device_id, now),
        country_first_seen_today=bool(any_earlier) and _first_seen_today(db, account_id, Order.country, country, now),
    )


#: The access-token claim with the time the session began (auth's ``mint_access_token``).
SESSION_STARTED_CLAIM = "session_started_at"


def session_started_at(principal: Principal) -> datetime:
    """When the caller's session began: the token's ``session_started_at`` when it carries one,
    else its ``auth_time`` (the last sign-in of the session: never older than the session)."""
    started = principal.claims.get(SESSION_STARTED_CLAIM)
    seconds = started if isinstance(started, int | float) and not isinstance(started, bool) else principal.auth_time
    return datetime.fromtimestamp(seconds, UTC)
