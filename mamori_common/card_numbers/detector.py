"""Finding full card numbers in text: the rule that decides whether a document may be kept.

A full card number is a run of 13 to 19 digits, written together or in groups split by one space
or dash, that passes the Luhn check *and* starts with a known issuer's prefix at a length that
issuer uses (:mod:`issuers`). Text is normalised first (NFKC: full-width digits and spaces, and
the many dashes OCR and Japanese typing produce), so ``４１１１－１１１１…`` counts.

A longer run of groups (a card number followed by an expiry or a reference, say) is checked on
every window of whole groups, so a card number cannot hide by being glued to other digits; a
window never splits a group, so one long account number is not cut into a false "card".
Pure functions, no I/O: tested with hypothesis in ``tests/verification/test_detector.py``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from mamori_common.card_numbers.issuers import issuer_of

MIN_DIGITS = 13
MAX_DIGITS = 19

#: Dashes people and OCR put between digit groups, beyond ASCII '-' (after NFKC).
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70\u2500"
_DASH_TABLE = str.maketrans(dict.fromkeys(_DASHES, "-"))
#: Digit groups separated by at most one separator (a space or a dash, maybe with spaces round it).
_RUN = re.compile(r"[0-9]+(?:(?: ?- ?| )[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class CardMatch:
    """A full card number at ``start:end`` of the *normalised* text; only its last 4 are kept."""

    start: int
    end: int
    issuer: str
    last4: str
    length: int


def normalise(text: str) -> str:
    """NFKC (full-width → ASCII), every dash to '-', every kind of space to ' '.

    NFKC keeps the length of digits, dashes and spaces, so offsets in the result match the input's
    where it matters (OCR word boxes map back by the same offsets).
    """
    if text.isascii():
        return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    folded = "".join(_fold(char) for char in text)
    return folded.translate(_DASH_TABLE)


def _fold(char: str) -> str:
    """One character in, one character out (so offsets survive): NFKC where it gives one char."""
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
    """The issuer, when ``digits`` (bare digits) is a full card number; else None."""
    if not (MIN_DIGITS <= len(digits) <= MAX_DIGITS) or not digits.isascii() or not digits.isdigit():
        return None
    if not luhn_valid(digits):
        return None
    return issuer_of(digits)


def find_card_numbers(text: str) -> list[CardMatch]:
    """Every full card number in ``text`` (positions in :func:`normalise` of it), left to right."""
    normal = normalise(text)
    found: list[CardMatch] = []
    for run in _RUN.finditer(normal):
        groups = [(group.start() + run.start(), group.end() + run.start()) for group in _GROUP.finditer(run.group())]
        found.extend(_matches_in_run(normal, groups))
    return found


def _matches_in_run(text: str, groups: list[tuple[int, int]]) -> list[CardMatch]:
    matches: list[CardMatch] = []
    first = 0
    while first < len(groups):
        match = None
        digits = ""
        for last in range(first, len(groups)):
            digits += text[groups[last][0] : groups[last][1]]
            if len(digits) > MAX_DIGITS:
                break
            issuer = is_card_number(digits)
            if issuer is not None:
                match = CardMatch(groups[first][0], groups[last][1], issuer, digits[-4:], len(digits))
                consumed = last
        if match is not None:
            matches.append(match)
            first = consumed + 1
        else:
            first += 1
    return matches


def contains_card_number(text: str) -> bool:
    return bool(find_card_numbers(text))


def digits_of(text: str) -> str:
    return "".join(char for char in normalise(text) if char.isdigit())
