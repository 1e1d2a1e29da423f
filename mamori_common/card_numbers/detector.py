"""Finding full card numbers in text: the rule that decides whether a document or a field may be kept.

A full card number is a run of 13 to 19 digits that passes the Luhn check *and* starts with a
known issuer's prefix at a length that issuer uses (:mod:`issuers`). The digits may be written in
groups, and the text is folded first (:func:`normalised`), because statements, OCR and typing write
the same number in many ways:

- every Unicode decimal digit counts as its ASCII digit (full-width ``４``, Arabic-Indic ``٤``,
  Devanagari ``४``...), by ``unicodedata.decimal``;
- invisible format characters (category Cf: zero-width spaces, soft hyphens, direction marks) are
  dropped, so they neither split nor join anything;
- between two digit groups, a *short* gap of whitespace, line breaks and punctuation is a
  separator: at most :data:`MAX_GAP` characters (a ``\\r\\n`` counts as one, spaces around it none),
  at most one line
  break (pdfium ends every line with ``\\r\\n``, so a number wrapped at the end of a line is still
  one number) and at most two marks (``-`` ``.`` ``/`` ``_`` ``,`` ``・`` and the other dashes and
  stops). Mask characters (``*``, ``#``, ``•``) and letters never separate: ``4111 **** **** 1111``
  is the masked number we ask for, not a card.

What keeps false positives low (phone and order numbers, dates, amounts, account numbers):

- a candidate is always made of *whole* groups, and every window of whole groups in a run is
  checked, so a card number glued to an expiry or a reference is found, while one long account
  number is never cut into a "card";
- cards are printed in groups of 4 to 6 digits, so a group of another width followed by more
  digits (``305-5583966-6219990``, ``9,098,946``, ``03-1234-5678``) never starts or continues a
  card number, unless a line wrap cut the number there;
- a bare 13-digit run that is a valid EAN-13 barcode (a JAN code in a product description) is a
  product code (:func:`is_product_code`);
- Luhn and the issuer table, as before: 16 random digits that pass Luhn but start with no
  issuer's prefix are not a card.

Offsets: a :class:`CardMatch` covers ``start:end`` of the *input* text. :func:`normalise` keeps the
length of its input, so the same offsets index its result (OCR word boxes map back by them), and
:func:`mask_card_numbers` blacks out exactly the digits at those places.

Pure functions, no I/O: tested with hypothesis in ``tests/verification/test_detector.py``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

from mamori_common.card_numbers.issuers import issuer_of

MIN_DIGITS = 13
MAX_DIGITS = 19
#: The longest gap between two digit groups that still joins them (after dropping format characters).
MAX_GAP = 3
#: The longest gap counting the spaces around a line break (an indented next line is another column).
MAX_RAW_GAP = 6
#: At most this many punctuation marks in one gap (``4111 - 1111`` has one, ``4111.-1111`` two).
MAX_MARKS_IN_GAP = 2

#: Dashes people and OCR put between digit groups, beyond ASCII '-' (after NFKC).
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70\u2500"
_DASH_TABLE = str.maketrans(dict.fromkeys(_DASHES, "-"))
#: Line breaks (``str.splitlines`` breaks on these).
_ASCII_SPACES = str.maketrans(dict.fromkeys((chr(c) for c in range(128) if chr(c).isspace()), " "))
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
#: Punctuation that masks digits or stands for something, so never separates digit groups.
_NOT_SEPARATORS = frozenset("*#•%&@\\")
_GROUP = re.compile(r"[0-9]+")
_SPACES_AROUND_BREAK = re.compile(r" *\n *")


@dataclass(frozen=True)
class CardMatch:
    """A full card number at ``start:end`` of the input text; only its issuer and last 4 are kept."""

    start: int
    end: int
    issuer: str
    last4: str
    length: int


@dataclass(frozen=True)
class Normalised:
    """The folded text the detector reads, and where each of its characters came from.

    ``text``: every decimal digit ASCII, every dash ``-``, every space ``' '``, every line break
    ``'\\n'`` (``\\r\\n`` is one), format characters dropped; other characters NFKC-folded where that
    gives one character. ``offsets[i]`` is the index in the input of ``text[i]``, and
    ``offsets[len(text)]`` is the input's length.
    """

    text: str
    offsets: tuple[int, ...]

    def input_span(self, start: int, end: int) -> tuple[int, int]:
        """The input's ``start:end`` that the folded ``start:end`` (non-empty) came from."""
        return self.offsets[start], self.offsets[end - 1] + 1


def normalised(text: str) -> Normalised:
    """``text`` folded for matching, with the offset map back to it (see :class:`Normalised`)."""
    chars: list[str] = []
    offsets: list[int] = []
    last = len(text) - 1
    for index, char in enumerate(text):
        if char == "\r" and index < last and text[index + 1] == "\n":
            continue
        folded = _fold_for_matching(char)
        if folded:
            chars.append(folded)
            offsets.append(index)
    offsets.append(len(text))
    return Normalised("".join(chars), tuple(offsets))


def _fold_for_matching(char: str) -> str:
    """One character in, at most one out: '' for a format character."""
    if char.isascii():
        if char in _LINE_BREAKS:
            return "\n"
        return " " if char.isspace() else char
    if unicodedata.category(char) == "Cf":
        return ""
    if char in _LINE_BREAKS:
        return "\n"
    return _fold(char).translate(_DASH_TABLE)


def normalise(text: str) -> str:
    """NFKC (full-width → ASCII), every decimal digit ASCII, every dash '-', every space ' '.

    One character in, one out, so offsets in the result match the input's (OCR word boxes and
    :class:`CardMatch` offsets index both alike). Line breaks become spaces.
    """
    if text.isascii():  # the same fold, quicker: every ASCII space (\v, \f and \x1c-\x1f too) is ' '
        return text.translate(_ASCII_SPACES)
    folded = "".join(_fold(char) for char in text)
    return folded.translate(_DASH_TABLE)


def _fold(char: str) -> str:
    """One character in, one character out (so offsets survive): a digit's ASCII digit, else NFKC
    where it gives one character, a space for any whitespace."""
    value = unicodedata.decimal(char, None)
    if value is not None:
        return chr(48 + value)
    folded = unicodedata.normalize("NFKC", char)
    if len(folded) == 1:
        return " " if folded.isspace() else folded
    return char


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def is_card_number(digits: str) -> str | None:
    """The issuer, when ``digits`` (bare ASCII digits) is a full card number; else None."""
    if not (MIN_DIGITS <= len(digits) <= MAX_DIGITS) or not digits.isascii() or not digits.isdigit():
        return None
    if not luhn_valid(digits):
        return None
    return issuer_of(digits)


def is_product_code(digits: str) -> bool:
    """Whether bare ``digits`` are a product's barcode number (EAN-13 / JAN: 13 digits, its check digit).

    JAN codes (``4901234567894``) start with 45 or 49 and fill product descriptions; one in ten also
    passes Luhn and would look like a 13-digit Visa. Written bare, as barcodes are, a valid EAN-13
    is taken for a product code; a 13-digit card written in groups is still a card. (13-digit Visa
    cards have not been issued for years; the one in ten of them this lets by is the price.)
    """
    if len(digits) != 13:
        return False
    total = sum((ord(char) - 48) * (3 if position % 2 else 1) for position, char in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == ord(digits[12]) - 48


def is_separator(char: str) -> bool:
    """Whether ``char`` (of the folded text) may stand between two digit groups of one number."""
    if char in " \n":
        return True
    if char in _NOT_SEPARATORS:
        return False
    return unicodedata.category(char) in ("Pd", "Pc", "Po")


def joins(gap: str) -> bool:
    """Whether the folded ``gap`` between two digit groups joins them into one run.

    Spaces at the end or start of a line are invisible, so they do not count towards
    :data:`MAX_GAP` (``4111 - ⏎1111`` is one number), up to :data:`MAX_RAW_GAP` characters in all.
    """
    if not gap or len(gap) > MAX_RAW_GAP or gap.count("\n") > 1:
        return False
    if len(_SPACES_AROUND_BREAK.sub("\n", gap)) > MAX_GAP:
        return False
    marks = [char for char in gap if char not in " \n"]
    return len(marks) <= MAX_MARKS_IN_GAP and all(is_separator(char) for char in marks)


def digit_runs(folded: str) -> Iterator[list[tuple[int, int]]]:
    """The runs of digit groups (``(start, end)`` in ``folded``) that separators join."""
    run: list[tuple[int, int]] = []
    for group in _GROUP.finditer(folded):
        if run and not joins(folded[run[-1][1] : group.start()]):
            yield run
            run = []
        run.append(group.span())
    if run:
        yield run


def find_card_numbers(text: str) -> list[CardMatch]:
    """Every full card number in ``text``, left to right, with offsets into ``text`` itself."""
    return find_in_normalised(normalised(text))


def find_in_normalised(folded: Normalised) -> list[CardMatch]:
    """:func:`find_card_numbers` on a text already folded: a caller that reads the same text for
    other things too (a scanned statement) folds it once and hands the result here."""
    found: list[CardMatch] = []
    for run in digit_runs(folded.text):
        found.extend(_matches_in_run(folded, run))
    return found


def _matches_in_run(folded: Normalised, groups: list[tuple[int, int]]) -> list[CardMatch]:
    """The longest card number starting at each group, leftmost first, never sharing a group."""
    text = folded.text
    wrapped = [("\n" in text[end:next_start]) for (_, end), (next_start, _) in pairwise(groups)]
    matches: list[CardMatch] = []
    first = 0
    while first < len(groups):
        match = None
        consumed = first
        digits = ""
        for last in range(first, len(groups)):
            if last > first and not _inner_group(groups, wrapped, last - 1, first):
                break
            digits += text[groups[last][0] : groups[last][1]]
            if len(digits) > MAX_DIGITS:
                break
            issuer = is_card_number(digits)
            if issuer is not None and not (last == first and is_product_code(digits)):
                start, end = folded.input_span(groups[first][0], groups[last][1])
                match = CardMatch(start, end, issuer, digits[-4:], len(digits))
                consumed = last
        if match is not None:
            matches.append(match)
            first = consumed + 1
        else:
            first += 1
    return matches


def _inner_group(groups: list[tuple[int, int]], wrapped: list[bool], index: int, first: int) -> bool:
    """Whether group ``index`` may be followed by more digits of the same number.

    Cards are printed in groups of 4 to 6 (4-4-4-4, 4-6-5, 4-6-4): a shorter or longer group with
    more digits after it is an order number (``305-5583966-6219990``), an amount (``9,098,946``)
    or a phone number (``03-1234-5678``). Only a line wrap, which may cut a number anywhere,
    excuses it: the group then ends or starts a line inside the window.
    """
    start, end = groups[index]
    if 4 <= end - start <= 6:
        return True
    return wrapped[index] or (index > first and wrapped[index - 1])


def contains_card_number(text: str) -> bool:
    if sum(char.isdigit() for char in text) < MIN_DIGITS:  # most texts: no detector run at all
        return False
    return bool(find_card_numbers(text))


def digits_of(text: str) -> str:
    return "".join(char for char in normalise(text) if char.isdigit())


def mask_card_numbers(text: str, mask: str = "x") -> str:
    """``text`` as given, with every digit of every full card number replaced by ``mask``.

    Everything else stays as written (separators, other numbers, the characters around), so a
    name or a note stays readable and no digit of the number survives.
    """
    if sum(char.isdigit() for char in text) < MIN_DIGITS:  # most texts: no detector run at all
        return text
    matches = find_card_numbers(text)
    if not matches:
        return text
    chars = list(text)
    for match in matches:
        for index in range(match.start, match.end):
            if unicodedata.decimal(chars[index], None) is not None:
                chars[index] = mask
    return "".join(chars)
