"""The one way a service checks a free-text field before keeping it: no full card number, ever.

A note, a supplement, a holder name, an order line's description or a card token from another
system is stored as given, shown to staff, put in mails: so it may never hold a full card number.
Every service runs :func:`ensure_no_card_number` (or :func:`ensure_no_card_numbers` for several
fields) on what it keeps *before* anything is written, so a refusal changes nothing. The problem
names the field, never the digits.

Where a refusal would lose more than it protects (a text shown back, like a file name),
:func:`without_card_numbers` masks the digits instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from mamori_common.card_numbers.detector import find_card_numbers, normalise
from mamori_common.problems import Problem

#: What to do about a typed field (the customer-visible text of the refusal).
HOW_TO_TYPE = {
    "ja": "カード番号は入力しないでください。必要なときは下4桁だけをご記入ください。",
    "en": "Please do not type a card number; where one is needed, give only its last 4 digits.",
}


def card_number_in_fields(fields: list[str]) -> Problem:
    """``422 card_number_visible`` naming the fields (never their content), in Japanese and English."""
    names = ", ".join(fields)
    return Problem(
        422,
        "card_number_visible",
        f"The {names} holds a full card number, so nothing was kept. {HOW_TO_TYPE['en']}",
        detail_ja=f"{names} にカード番号が含まれているため、何も保存していません。{HOW_TO_TYPE['ja']}",
        field=fields[0],
        fields=fields,
        how_to_mask_ja=HOW_TO_TYPE["ja"],
        how_to_mask_en=HOW_TO_TYPE["en"],
    )


def ensure_no_card_number(text: str | None, field: str) -> None:
    """Refuse (422 ``card_number_visible``) a field that holds a full card number; None passes."""
    if text and find_card_numbers(text):
        raise card_number_in_fields([field])


def ensure_no_card_numbers(fields: Mapping[str, str | None]) -> None:
    """The same check on several fields at once: the refusal names every field that holds one."""
    found = [name for name, text in fields.items() if text and find_card_numbers(text)]
    if found:
        raise card_number_in_fields(found)


def without_card_numbers(text: str) -> str:
    """``text`` (normalised) with the digits of any full card number replaced by ``x``.

    For a text shown back rather than refused (a file name); :func:`mask_card_numbers` does the
    same keeping the text as written.
    """
    matches = find_card_numbers(text)
    if not matches:
        return text
    chars = list(normalise(text))
    for match in matches:
        for index in range(match.start, match.end):
            if chars[index].isdigit():
                chars[index] = "x"
    return "".join(chars)
