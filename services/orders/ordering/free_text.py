"""What an order keeps as text (line descriptions, the card's holder name and token) never holds a
full card number.

Descriptions and holder names reach the orders tables, verification's case (``payment.held``) and
the customer's mails; the card token comes from the payment page, another system, and a token that
is really a card number must not be kept either. Each is run through the kit's one detector before
anything is read or written, so a refusal (``422 card_number_visible``, naming the fields, never
their text) changes nothing.
"""

from __future__ import annotations

from mamori_common.card_numbers import ensure_no_card_numbers
from services.orders.ordering.schemas import PlaceOrderRequest


def free_text_of(order: PlaceOrderRequest) -> dict[str, str]:
    """Every text field of an order request, by its place in the body."""
    fields = {f"lines[{index}].description": line.description for index, line in enumerate(order.lines)}
    for index, tender in enumerate(order.tenders):
        if tender.card is not None:
            fields[f"tenders[{index}].card.holder_name"] = tender.card.holder_name
            fields[f"tenders[{index}].card.token"] = tender.card.token
    return fields


def ensure_no_card_number_in(order: PlaceOrderRequest) -> None:
    ensure_no_card_numbers(free_text_of(order))
