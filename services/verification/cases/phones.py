"""The callback phone: what a number staff can dial looks like (E.164 lengths, common separators).

A customer types it in any width (``０９０－１２３４－５６７８``) and with the separators people use
(spaces, dashes, dots, parentheses around an area code or the trunk ``(0)``); what is kept is the
ASCII form. Anything else is refused with ``422 invalid_phone`` in Japanese and English, and never
echoed: a refused phone may be a card number or anything else the customer did not mean to keep.
(A full card number is refused before this rule runs, as ``card_number_visible``.)
"""

from __future__ import annotations

import re

from mamori_common.card_numbers import normalise
from mamori_common.problems import Problem

#: E.164: at most 15 digits with the country code; 7 is the shortest subscriber number dialled.
MIN_DIGITS = 7
MAX_DIGITS = 15
MAX_LENGTH = 32
#: An optional ``+``, then digit groups joined by one separator: a space, a dash, a dot, or a
#: parenthesis (``(03) 1234-5678``, ``+81 (0)3-1234-5678``).
_PHONE = re.compile(r"\+?\(?[0-9]+(?:(?:[ .\-]|\) ?| ?\()[0-9]+)*")

INVALID_PHONE = {
    "ja": "電話番号は数字7〜15桁で入力してください（例: 090-1234-5678、+81 90 1234 5678）。",
    "en": "Enter a phone number of 7 to 15 digits (for example 090-1234-5678 or +81 90 1234 5678).",
}


def is_callback_phone(text: str) -> bool:
    """Whether ``text`` (already folded to ASCII, trimmed) is a number staff can dial."""
    if len(text) > MAX_LENGTH or not _PHONE.fullmatch(text):
        return False
    return MIN_DIGITS <= sum(char.isdigit() for char in text) <= MAX_DIGITS


def callback_phone(typed: str) -> str:
    """The phone to keep (ASCII, trimmed), or ``422 invalid_phone``."""
    phone = normalise(typed).strip()
    if not is_callback_phone(phone):
        raise Problem(422, "invalid_phone", INVALID_PHONE["en"], detail_ja=INVALID_PHONE["ja"], field="phone")
    return phone
