"""What an order keeps as text runs the card-number detector (issue 17, point 3).

A line's description, the card's holder name and the card token (sent by the payment page,
another system) reach the orders tables, verification's case and the customer's mails: one with a
full card number, written any way, is ``422 card_number_visible`` and nothing is kept, nothing
charged, nothing announced. Last, the SQLite files (``-wal`` included) are read for the digits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mamori_common.card_numbers import find_card_numbers
from services.orders.ordering.models import Order, Tender
from services.orders.payments.models import PaymentTask
from tests.orders.harness import OrdersHarness, card_tender, line

WRITTEN = {
    "spaces": ("4556 7375 8689 9855", "4556737586899855"),
    "dots": ("5425.2334.3010.9903", "5425233430109903"),
    "wrapped": ("3530 1113\r\n3330 0000", "3530111333300000"),
    "zero_width": ("6011\u200b0009\u200b9013\u200b9424", "6011000990139424"),
    "arabic_indic": ("٤٩١٧ ٤٨٤٥ ٨٩٨٩ ٧١٠٧", "4917484589897107"),
    "fullwidth": ("３７１４　４９６３５３　９８４３１", "371449635398431"),
    "slashes": ("6062/8288/8866/6688", "6062828888666688"),
}
#: Tokens only ever hold ASCII letters, digits and underscores (the schema's pattern).
TOKENS = {
    "bare": ("tok_4556737586899855", "4556737586899855"),
    "underscores": ("tok_5425_2334_3010_9903", "5425233430109903"),
    "glued": ("tok_card3530111333300000x", "3530111333300000"),
}
FORMS = pytest.mark.parametrize("form", sorted(WRITTEN))


def test_the_numbers_used_here_are_full_card_numbers() -> None:
    for written, digits in [*WRITTEN.values(), *TOKENS.values()]:
        [match] = find_card_numbers(written)
        assert match.length == len(digits)


def counts(orders: OrdersHarness) -> tuple[int, int, int]:
    with orders.app.state.db.session() as db:
        return tuple(  # type: ignore[return-value]
            int(db.scalar(select(func.count()).select_from(model)) or 0) for model in (Order, Tender, PaymentTask)
        )


def refused(orders: OrdersHarness, response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "card_number_visible" and body["fields"] == [field]
    assert body["detail"] and body["detail_ja"]
    assert counts(orders) == (0, 0, 0) and orders.published() == []


@FORMS
def test_a_description_with_a_card_number_is_refused_and_nothing_is_kept(orders: OrdersHarness, form: str) -> None:
    response = orders.place(
        orders.customer(), [line("physical", 500, description=f"Gift for {WRITTEN[form][0]}")], [card_tender(500)]
    )
    refused(orders, response, "lines[0].description")


@FORMS
def test_a_holder_name_with_a_card_number_is_refused_and_nothing_is_kept(orders: OrdersHarness, form: str) -> None:
    response = orders.place(
        orders.customer(),
        [line("gift_card", 100_000)],
        [card_tender(100_000, holder_name=f"HANA {WRITTEN[form][0]}")],
    )
    refused(orders, response, "tenders[0].card.holder_name")


@pytest.mark.parametrize("form", sorted(TOKENS))
def test_a_card_token_that_is_a_card_number_is_refused_and_nothing_is_kept(orders: OrdersHarness, form: str) -> None:
    response = orders.place(orders.customer(), [line("physical", 500)], [card_tender(500, token=TOKENS[form][0])])
    refused(orders, response, "tenders[0].card.token")


def test_every_field_holding_one_is_named(orders: OrdersHarness) -> None:
    response = orders.place(
        orders.customer(),
        [line("physical", 300, description="ok"), line("digital", 200, description=WRITTEN["dots"][0])],
        [card_tender(500, holder_name=WRITTEN["spaces"][0])],
    )
    assert response.json()["fields"] == ["lines[1].description", "tenders[0].card.holder_name"]


def test_an_order_with_ordinary_numbers_in_its_text_is_placed(orders: OrdersHarness) -> None:
    response = orders.place(
        orders.customer(),
        [line("physical", 500, description="USB-C cable 2m, model 2026-11-03, JAN 4901234567894")],
        [card_tender(500, holder_name="HANA SATO")],
    )
    assert response.status_code == 201, response.text


def test_after_every_refused_order_no_card_digits_are_anywhere_in_the_database_files(
    orders: OrdersHarness, data_dir: Path
) -> None:
    customer = orders.customer()
    attempts = 0
    for written, _ in WRITTEN.values():
        for lines, tenders in (
            ([line("physical", 500, description=written)], [card_tender(500)]),
            ([line("physical", 500)], [card_tender(500, holder_name=written)]),
        ):
            attempts += 1  # under an Idempotency-Key too: the refusal comes before the key is recorded
            assert orders.place(customer, lines, tenders, key=f"attempt-{attempts}").status_code == 422
    for token, _ in TOKENS.values():
        assert orders.place(customer, [line("physical", 500)], [card_tender(500, token=token)]).status_code == 422
    placed = orders.place(customer, [line("physical", 700, description="Kitchen scale KS-7")], [card_tender(700)])
    assert placed.status_code == 201, placed.text

    files = [path for path in data_dir.rglob("*.db*") if path.is_file()]
    assert any(path.name.endswith(".db-wal") for path in files), files
    stored = b"".join(path.read_bytes() for path in files)
    assert b"Kitchen scale KS-7" in stored  # what was kept can be found
    for written, digits in [*WRITTEN.values(), *TOKENS.values()]:
        for needle in {written, json.dumps(written)[1:-1], digits, digits[:8], digits[-8:]}:
            assert needle.encode() not in stored, needle
