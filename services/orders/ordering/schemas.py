"""Shapes of the ordering routes. Amounts are integer yen (JPY has no minor unit)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from services.orders.catalogue import Text

Yen = Annotated[int, Field(ge=1, le=10_000_000)]


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["physical", "digital", "subscription", "gift_card", "balance_top_up"]
    description: str = Field(min_length=1, max_length=200)
    quantity: int = Field(default=1, ge=1, le=100)
    unit_amount: Yen


class CardIn(BaseModel):
    """A card as the payment page tokenised it: never the number itself."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=4, max_length=64, pattern=r"^tok_[A-Za-z0-9_]+$")
    last4: str = Field(pattern=r"^[0-9]{4}$")
    expiry: str = Field(pattern=r"^(0[1-9]|1[0-2])/[0-9]{2}$", examples=["04/29"])
    holder_name: str = Field(min_length=1, max_length=100)


class CardTenderIn(BaseModel):
    """Paid by card: the card's details come with it."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["card"]
    amount: Yen
    card: CardIn


class StoredValueTenderIn(BaseModel):
    """Paid from what the account holds (points, gift balance): no card."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["gift_balance", "points"]
    amount: Yen
    card: None = Field(default=None, description="Always absent (or null): only a card tender carries a card.")


#: A card tender carries card details and the others do not: one shape per kind, told apart by ``kind``.
TenderIn = Annotated[CardTenderIn | StoredValueTenderIn, Field(discriminator="kind")]
TENDER_KINDS = ("card", "gift_balance", "points")


def _one_tender_per_kind(schema: dict[str, Any]) -> None:
    """``at most one tender of each kind``, in JSON Schema terms (2020-12 ``maxContains``)."""
    tenders = schema["properties"]["tenders"]
    tenders["allOf"] = [
        {
            "contains": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "minContains": 0,
            "maxContains": 1,
        }
        for kind in TENDER_KINDS
    ]


class PlaceOrderRequest(BaseModel):
    """An order and how it is paid. The tenders' amounts add up to the lines' total
    (``unit_amount`` × ``quantity``, summed) exactly, with at most one tender of each kind."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_tender_per_kind)

    lines: list[LineIn] = Field(min_length=1, max_length=50)
    tenders: list[TenderIn] = Field(
        min_length=1,
        max_length=3,
        description="At most one of each kind; their amounts add up to the lines' total exactly.",
    )

    @model_validator(mode="after")
    def _tenders_pay_the_total(self) -> PlaceOrderRequest:
        kinds = [tender.kind for tender in self.tenders]
        if len(set(kinds)) != len(kinds):
            raise ValueError("at most one tender of each kind")
        total = sum(line.unit_amount * line.quantity for line in self.lines)
        if sum(tender.amount for tender in self.tenders) != total:
            raise ValueError(f"the tenders must pay the order total ({total} yen) exactly")
        return self


class LineOut(BaseModel):
    id: str
    kind: str
    description: str
    quantity: int
    unit_amount: int
    amount: int
    state: str
    used: bool
    redeemed: bool
    shipped_at: datetime | None


class TenderOut(BaseModel):
    kind: str
    amount: int
    captured: int
    refunded: int
    card_last4: str | None = None
    card_holder: str | None = None


class RiskOut(BaseModel):
    outcome: str
    reasons: list[str]
    explanations: list[Text] = Field(description="Each reason in Japanese and English, as the customer reads it.")


class OrderOut(BaseModel):
    id: str
    state: str
    total: int
    currency: str
    risk: RiskOut
    lines: list[LineOut]
    tenders: list[TenderOut]
    created_at: datetime
    placed_at: datetime | None
    cancelled_at: datetime | None
    subscription_ids: list[str] = Field(default_factory=list)
    return_ids: list[str] = Field(default_factory=list, description="Returns opened for this order, oldest first.")


class OrderList(BaseModel):
    items: list[OrderOut]
    #: The cursor of the next page (pass it as ``cursor``); null on the last page.
    next: str | None = None


class OneClickRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool


class OneClickOut(BaseModel):
    enabled: bool
    detail: Text
