"""The card-number detector (mamori_common/card_numbers/detector.py): examples and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori_common.card_numbers.detector import find_card_numbers, luhn_valid, normalise

FULLWIDTH = str.maketrans("0123456789 -", "０１２３４５６７８９　－")


def with_check_digit(body: str) -> str:
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return body + digit
    raise AssertionError("unreachable")


def grouped(number: str, separator: str, size: int = 4) -> str:
    return separator.join(number[i : i + size] for i in range(0, len(number), size))


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "card: 4111111111111111.",
        "５５５５－５５５５－５５５５－４４４４",  # full-width digits and dash
        "5555 ー 5555 ー 5555 ー 4444",  # a katakana long mark OCR reads for a dash
        "2221 0000 0000 0009",  # Mastercard 2-series
        "2720 9999 9999 9996",
        "4000 0000 0000 0000 006",  # 19-digit Visa
        "3782 822463 10005",  # Amex, 4-6-5 groups
        "3530 1113 3330 0000",  # JCB
        "6011 1111 1111 1117 exp 12/29",
        "5555 5555 5555 4444 0326",  # followed by more digits: still found
    ],
)
def test_full_card_numbers_are_found(text: str) -> None:
    assert len(find_card_numbers(text)) == 1, text


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # Luhn-invalid
        "電話 03-1234-5678 / 090-1234-5678",  # phone numbers
        "+81 90 1234 5678",
        "注文番号 112-3456789-1234567",  # an order number (17 digits, no issuer)
        "**** **** **** 4242",  # a masked number is what we ask for
        "1234 5678 9012 3456",
        "12345678901234567890123",  # one long account number, not a card inside it
        "口座 0000000000000000",
    ],
)
def test_other_numbers_are_not_card_numbers(text: str) -> None:
    assert find_card_numbers(text) == []


def test_the_match_keeps_only_the_last_four_and_the_issuer() -> None:
    [match] = find_card_numbers("Visa ４１１１ １１１１ １１１１ １１１１ end")
    assert (match.issuer, match.last4, match.length) == ("visa", "1111", 16)
    assert normalise("Visa ４１１１ １１１１ １１１１ １１１１ end")[match.start : match.end] == "4111 1111 1111 1111"


PREFIXES = st.sampled_from(["4", "51", "55", "2221", "2500", "2720", "34", "37", "3528", "3589", "6011", "65", "62"])


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    prefix = draw(PREFIXES)
    length = {"34": 15, "37": 15}.get(prefix, 16)
    body = prefix + "".join(
        draw(
            st.lists(
                st.sampled_from("0123456789"), min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1
            )
        )
    )
    return with_check_digit(body)


@settings(max_examples=300, deadline=None)
@given(
    number=card_numbers(),
    separator=st.sampled_from(["", " ", "-", " - "]),
    fullwidth=st.booleans(),
    before=st.text(alphabet="ABCabc 住所：円。", max_size=12),
    after=st.text(alphabet="ABCabc 住所：円。", max_size=12),
)
def test_any_valid_card_number_in_any_writing_is_found(
    number: str, separator: str, fullwidth: bool, before: str, after: str
) -> None:
    text = grouped(number, separator) if separator else number
    if fullwidth:
        text = text.translate(FULLWIDTH)
    matches = find_card_numbers(f"{before} {text} {after}")
    assert [match.last4 for match in matches] == [number[-4:]]


@settings(max_examples=300, deadline=None)
@given(number=card_numbers(), position=st.integers(min_value=0, max_value=15), delta=st.integers(1, 9))
def test_one_wrong_digit_is_never_a_card_number(number: str, position: int, delta: int) -> None:
    position %= len(number)
    wrong = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    assert not luhn_valid(wrong)
    assert find_card_numbers(grouped(wrong, " ")) == []


@settings(max_examples=200, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=1, max_size=12))
def test_runs_shorter_than_thirteen_digits_never_match(digits: str) -> None:
    assert find_card_numbers(f"No. {digits} / tel {digits}") == []


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_normalise_keeps_the_length(text: str) -> None:
    assert len(normalise(text)) == len(text)
