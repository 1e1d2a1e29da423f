"""The card-number detector (mamori_common/card_numbers/detector.py): examples and properties."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mamori_common.card_numbers import (
    digits_of,
    find_card_numbers,
    luhn_valid,
    mask_card_numbers,
    normalise,
    normalised,
)
from mamori_common.card_numbers.detector import is_product_code

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


# -- Issue 17: numbers written the ways the old detector missed, networks it did not know -------------

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")


@pytest.mark.parametrize(
    "text",
    [
        "Card 4111 1111\r\n1111 1111 exp",  # wrapped at the end of a pdfium line
        "4111 1111 1111\r\n1111",
        "41111111\r\n11111111",  # a bare number wrapped in a narrow column
        "4111 11\r\n11 1111 1111",  # a wrap that cut a group
        "4111.1111.1111.1111",
        "4111/1111/1111/1111",
        "4111_1111_1111_1111",
        "4111,1111,1111,1111",
        "4111  1111  1111  1111",  # double spaces
        "4111\u200b1111\u200b1111\u200b1111",  # zero-width spaces
        "4111\u00ad1111\u00ad1111\u00ad1111",  # soft hyphens
        "4111 - 1111 -\r\n1111 - 1111",
        "4111 1111 1111 1111".translate(ARABIC_INDIC),
        "4111111111111111".translate(DEVANAGARI),
        "４１１１　１１１１\r\n１１１１　１１１１",  # full-width, split over a line
        "3782\u200b822463\u200b10005",  # Amex 4-6-5 with zero-width spaces
    ],
)
def test_numbers_written_every_way_a_statement_or_a_customer_writes_them_are_found(text: str) -> None:
    expected = "0005" if "3782" in text else "1111"
    assert [match.last4 for match in find_card_numbers(text)] == [expected], text


@pytest.mark.parametrize(
    "text",
    [
        "2026/11/03 12:30 4,500円 12,000円",  # a statement line: date, time, amounts
        "合計 1,234,567,890,123,456 円",  # a long amount with thousands marks
        "1.234.567.890.123.456",
        "Tel 03-1234-5678\r\nFax 03-1234-5679",
        "+81 90 1234 5678 / +81 3 1234 5678",
        "4111 **** **** 1111",  # the masked number we ask for
        "4111 •••• •••• 1111",
        "注文番号 249-5551234-7654321",
    ],
)
def test_statement_lines_that_are_not_card_numbers_stay_clean(text: str) -> None:
    assert find_card_numbers(text) == []


#: Every network and length a store sees, written out here (not read from the issuer table), with a
#: prefix inside its range: (the issuer the detector names, prefix, lengths).
NETWORKS: list[tuple[str, str, tuple[int, ...]]] = [
    ("visa", "4", (13, 16, 19)),
    ("mastercard", "51", (16,)),
    ("mastercard", "55", (16,)),
    ("mastercard", "2221", (16,)),
    ("mastercard", "2720", (16,)),
    ("amex", "34", (15,)),
    ("amex", "37", (15,)),
    ("jcb", "3528", (16, 17, 18, 19)),
    ("jcb", "3589", (16, 17, 18, 19)),
    ("diners", "300", (14, 16, 19)),
    ("diners", "36", (14, 16, 19)),
    ("unionpay", "62", (16, 17, 18, 19)),
    ("discover", "6011", (16, 19)),
    ("discover", "644", (16,)),
    ("discover", "65", (16, 19)),
    ("rupay", "60", (16,)),
    ("rupay", "81", (16,)),
    ("rupay", "82", (16,)),
    ("rupay", "508", (16,)),
    ("dankort", "5019", (16,)),
    ("verve", "506099", (16, 19)),
    ("verve", "506198", (16, 19)),
    ("verve", "650002", (16, 19)),
    ("verve", "650027", (16, 19)),
    ("troy", "9792", (16,)),
    ("elo", "5067", (16,)),
    ("elo", "401178", (16,)),
    ("elo", "438935", (16,)),
    ("elo", "451416", (16,)),
    ("elo", "457631", (16,)),
    ("elo", "504175", (16,)),
    ("elo", "506699", (16,)),
    ("elo", "506778", (16,)),
    ("elo", "509000", (16,)),
    ("elo", "509999", (16,)),
    ("elo", "627780", (16,)),
    ("elo", "636297", (16,)),
    ("elo", "636368", (16,)),
    ("elo", "650031", (16,)),
    ("elo", "650033", (16,)),
    ("uzcard", "8600", (16,)),
]
WIDE, NARROWER = {"visa", "rupay", "unionpay", "discover"}, {"elo", "verve", "discover"}
NETWORK_CARDS = st.sampled_from([(name, prefix, length) for name, prefix, lengths in NETWORKS for length in lengths])


@st.composite
def any_card(draw: st.DrawFn) -> tuple[str, str]:
    """(issuer, number): a valid number of any network and length above."""
    name, prefix, length = draw(NETWORK_CARDS)
    body = prefix + draw(st.text(alphabet="0123456789", min_size=length - len(prefix) - 1, max_size=length - 1))
    number = with_check_digit(body[: length - 1])
    assume(not is_product_code(number))  # a bare one is a barcode: see the test of JAN codes below
    return name, number


#: How a number is split: (separator between groups, is it a wrap that may fall anywhere).
SEPARATORS = ["", " ", "-", " - ", ".", "/", "_", ",", "  ", "\u200b", "\u00ad", "\u3000", "－"]
SCRIPTS = {
    "ascii": str.maketrans("", ""),
    "fullwidth": str.maketrans("0123456789", "０１２３４５６７８９"),
    "arabic-indic": ARABIC_INDIC,
    "devanagari": DEVANAGARI,
}


@st.composite
def written_card(draw: st.DrawFn) -> tuple[str, str, str]:
    """(issuer, number, the number as written): groups of 4 (or 4-6-5), any separator and script,
    maybe wrapped onto a second line (``\\r\\n`` or ``\\n``) at a random place between groups."""
    name, number = draw(any_card())
    sizes = [4, 6, 5] if len(number) == 15 and draw(st.booleans()) else [4] * 5
    groups, rest = [], number
    for size in sizes:
        if rest:
            groups.append(rest[:size])
            rest = rest[size:]
    if rest:
        groups.append(rest)
    separator = draw(st.sampled_from(SEPARATORS))
    joins = [separator] * (len(groups) - 1)
    if len(groups) > 1 and draw(st.booleans()):
        wrap = draw(st.integers(0, len(groups) - 2))
        joins[wrap] = (separator if separator.strip() and separator != "\u3000" else "") + draw(
            st.sampled_from(["\r\n", "\n", " \r\n"])
        )
    text = groups[0] + "".join(join + group for join, group in zip(joins, groups[1:], strict=True))
    script = draw(st.sampled_from(sorted(SCRIPTS)))
    return name, number, text.translate(SCRIPTS[script])


@settings(max_examples=400, deadline=None)
@given(card=written_card(), before=st.sampled_from(["", "カード番号: ", "Card no. ", "番号\r\n"]))
def test_every_network_and_length_in_any_writing_is_found_where_it_stands(
    card: tuple[str, str, str], before: str
) -> None:
    name, number, text = card
    document = f"{before}{text} ご利用ありがとうございます"
    [match] = find_card_numbers(document)
    assert (match.last4, match.length) == (number[-4:], len(number))
    # A random number under a wide prefix (4, 60, 62, 65) may fall in a narrower network's range.
    assert match.issuer == name or (name in WIDE and match.issuer in NARROWER)
    assert (match.start, match.end) == (len(before), len(before) + len(text))
    masked = mask_card_numbers(document)
    assert digits_of(masked) == "" and masked.replace("x", "") == document.replace("x", "").translate(
        str.maketrans("", "", "0123456789０１２３４５６７８９٠١٢٣٤٥٦٧٨٩०१२३४५६७८९")
    )


@settings(max_examples=300, deadline=None)
@given(
    first=st.sampled_from("0179"),
    body=st.text(alphabet="0123456789", min_size=14, max_size=14),
    separator=st.sampled_from(["", " ", ".", "\r\n", "\u200b"]),
)
def test_luhn_valid_numbers_of_no_issuer_are_not_card_numbers(first: str, body: str, separator: str) -> None:
    number = with_check_digit(first + body)
    assert find_card_numbers(grouped(number, separator) if separator else number) == []


@settings(max_examples=300, deadline=None)
@given(
    area=st.sampled_from(["03", "06", "090", "080", "070", "0120", "+81 90", "+81 3", "+1 415"]),
    middle=st.integers(100, 9999),
    last=st.integers(1000, 9999),
    year=st.integers(2020, 2030),
    month=st.integers(1, 12),
    amount=st.integers(1, 9_999_999),
    order=st.tuples(st.integers(100, 999), st.integers(1_000_000, 9_999_999), st.integers(1_000_000, 9_999_999)),
)
def test_phones_dates_amounts_and_order_numbers_on_one_line_are_not_card_numbers(
    area: str, middle: int, last: int, year: int, month: int, amount: int, order: tuple[int, int, int]
) -> None:
    line = (
        f"{year}/{month:02d}/01 ご利用額 {amount:,}円 Tel {area}-{middle}-{last}\r\n"
        f"注文番号 {order[0]}-{order[1]}-{order[2]}"
    )
    assert find_card_numbers(line) == []


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_the_folded_text_maps_back_to_the_input(text: str) -> None:
    folded = normalised(text)
    assert len(folded.offsets) == len(folded.text) + 1 and folded.offsets[-1] == len(text)
    assert list(folded.offsets) == sorted(set(folded.offsets))
    for index, char in enumerate(folded.text):
        if char.isdigit():
            assert normalise(text[folded.offsets[index]]) == char


def test_masking_blacks_out_exactly_the_card_digits_and_keeps_the_rest_as_written() -> None:
    text = "注文 112-3456789 カード ４１１１\u200b１１１１\r\n１１１１ １１１１ 期限 12/29"
    assert mask_card_numbers(text) == "注文 112-3456789 カード xxxx\u200bxxxx\r\nxxxx xxxx 期限 12/29"
    assert mask_card_numbers("no card here 1234") == "no card here 1234"


def test_a_jan_barcode_in_a_description_is_a_product_code_but_the_same_digits_in_card_groups_are_a_card() -> None:
    jan = "4901234567894"  # GS1 Japan's example JAN code; it also passes Luhn
    assert luhn_valid(jan) and is_product_code(jan)
    assert find_card_numbers(f"USB-C cable 2m, JAN {jan}") == []
    assert [match.length for match in find_card_numbers("4901 2345 6789 4")] == [13]
    assert [match.length for match in find_card_numbers("4222222222222")] == [13]  # Visa 13, not an EAN
