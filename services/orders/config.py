"""Settings of the orders service (``MAMORI_`` prefix; database from ``MAMORI_ORDERS_DATABASE_URL``).

Every number an orders rule depends on is named here; the rules that read them live in the
domain folder named after what they decide (``risk/rules.py``, ``refunds/split.py``,
``subscriptions/rules.py``, ``cancellation/rules.py``).
"""

from typing import ClassVar, Literal

from pydantic import AliasChoices, Field

from mamori_common.settings import ServiceSettings

TenderKind = Literal["points", "gift_balance", "card"]


class OrdersSettings(ServiceSettings):
    service_name: ClassVar[str] = "orders"
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("MAMORI_ORDERS_DATABASE_URL"))

    # -- risk/rules.py: holds and blocks (stories S2, S3) --
    #: Gift cards and balance top-ups in one order of this much (yen) or more are held for verification.
    risk_gift_and_top_up_limit: int = 50_000
    #: This many gift-card or top-up orders within the window (this one included, both kinds
    #: counted together) are held.
    risk_gift_or_top_up_orders_per_window: int = 3
    risk_gift_or_top_up_window_seconds: int = 24 * 3600
    #: A balance top-up from a session younger than this, or from a device first seen within a
    #: day, is held.
    risk_top_up_min_session_age_seconds: int = 24 * 3600
    #: An order of at least this much (yen) from a device or country first seen today is held.
    risk_high_value_amount: int = 30_000
    #: Orders above this (yen) are refused outright.
    risk_block_amount: int = 2_000_000

    # -- refunds/split.py: which tender gets money back first (the reverse of charging) --
    refund_tender_order: tuple[TenderKind, ...] = ("points", "gift_balance", "card")
    #: A refund the provider failed is retried after this many seconds (then doubling, capped).
    refund_retry_base_seconds: float = 2.0
    refund_retry_max_seconds: float = 300.0
    refund_retry_poll_seconds: float = 1.0

    # -- subscriptions/rules.py --
    subscription_period_days: int = 30

    # -- ordering: one-click and confirmation --
    #: An order waiting for its explicit confirmation (one-click off) lapses after this.
    confirmation_window_seconds: int = 900
    #: Answer of auth's standing call, at most this long to wait (then fail closed: 503).
    standing_timeout_seconds: float = 3.0

    #: Idempotency keys are kept this long.
    idempotency_ttl_seconds: int = 24 * 3600
