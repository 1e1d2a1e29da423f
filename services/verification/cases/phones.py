"""The callback phone: what a number staff can dial looks like (E.164 lengths, common separators).

A customer types it in any width (``０９０－１２３４－５６７８``) and with the separators people use
(spaces, dashes, dots, parentheses around an area code or the trunk ``(0)``); what is kept is the
ASCII form. Anything else is refused with ``422 invalid_phone`` in Japanese and English, and never
echoed: a refused phone may be a card number or anything else the customer did not mean to keep.
(A full card number is refused before this rule runs, as ``card_number_visible``.)
"""

from __future__ import annotations

import functools
import re

from mamori_common.card_numbers import normalise
from mamori_common.problems import Problem

#: E.164: at most 15 digits with the country code; 7 is the shortest subscriber number dialled.
MIN_DIGITS = 7
MAX_DIGITS = 15
#: An optional ``+``, then digit groups joined by one separator: a space, a dash, a dot, or a
#: parenthesis (``(03) 1234-5678``, ``+81 (0)3-1234-5678``).
_PHONE = re.compile(r"\+?\(?[0-9]+(?:(?:[ .\-]|\) ?| ?\()[0-9]+)*")

INVALID_PHONE = {
    "ja": "電話番号は数字7〜15桁で入力してください（例: 090-1234-5678、+81 90 1234 5678）。",
    "en": "Enter a phone number of 7 to 15 digits (for example 090-1234-5678 or +81 90 1234 5678).",
}


def _class_of(chars: list[str], negated: bool = False) -> str:
    """A regex character class of ``chars`` as runs (``\\uXXXX`` escapes; astral ones as they are)."""

    def one(char: str) -> str:
        if char.isascii():
            return re.escape(char) if char.isprintable() and char != " " else f"\\x{ord(char):02x}"
        return f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else char

    points = sorted(ord(char) for char in chars)
    runs: list[tuple[int, int]] = []
    for point in points:
        if runs and runs[-1][1] == point - 1:
            runs[-1] = (runs[-1][0], point)
        else:
            runs.append((point, point))
    body = "".join(one(chr(a)) if a == b else f"{one(chr(a))}-{one(chr(b))}" for a, b in runs)
    return f"[{'^' if negated else ''}{body}]"


@functools.cache
def declared_pattern() -> str:
    """:func:`is_callback_phone` after :func:`normalise` and ``strip()``, as one pattern over what a
    customer types: every character that folds to a digit, a space, a dash, a dot, ``+`` or a
    parenthesis stands for it. Built from the same fold, so the
    OpenAPI and the check cannot drift apart (once per process, when the document is built)."""
    folds: dict[str, list[str]] = {}
    for point in range(0x110000):
        if 0xD800 <= point <= 0xDFFF:
            continue
        char = chr(point)
        folded = normalise(char)
        if folded.isdigit() and folded.isascii():
            folds.setdefault("digit", []).append(char)
        elif folded in " -.+()" and folded:
            folds.setdefault(folded, []).append(char)
    # Every space folds to " " (and only spaces do), so what ``strip()`` takes is the space class.
    digit, space = _class_of(folds["digit"]), _class_of(folds[" "])
    dash, dot, plus = _class_of(folds["-"]), _class_of(folds["."]), _class_of(folds["+"])
    opening, closing = _class_of(folds["("]), _class_of(folds[")"])
    # Digits with at most one separator between two of them: the groups of :data:`_PHONE`, counted
    # without a lookahead (a generator of examples cannot satisfy one).
    separator = f"(?:{space}|{dash}|{dot}|{closing}{space}?|{space}?{opening})"
    core = f"{plus}?{opening}?{digit}(?:{separator}?{digit}){{{MIN_DIGITS - 1},{MAX_DIGITS - 1}}}"
    return f"^{space}*{core}{space}*$"


def is_callback_phone(text: str) -> bool:
    """Whether ``text`` (already folded to ASCII, trimmed) is a number staff can dial (at most 15
    digits with a separator or two between them keeps it under 64 characters, the field's limit)."""
    if not _PHONE.fullmatch(text):
        return False
    return MIN_DIGITS <= sum(char.isdigit() for char in text) <= MAX_DIGITS


def callback_phone(typed: str) -> str:
    """The phone to keep (ASCII, trimmed), or ``422 invalid_phone``."""
    phone = normalise(typed).strip()
    if not is_callback_phone(phone):
        raise Problem(422, "invalid_phone", INVALID_PHONE["en"], detail_ja=INVALID_PHONE["ja"], field="phone")
    return phone
