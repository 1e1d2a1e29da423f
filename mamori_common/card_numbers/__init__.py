"""Full card numbers in text: the one detector every service runs on what it keeps.

Verification scans documents with it, and every service runs it on each free-text field it keeps
(a note, a supplement, a holder name), so a full card number never reaches a table, a log or a mail.
"""

from mamori_common.card_numbers.detector import (
    CardMatch,
    Normalised,
    contains_card_number,
    digits_of,
    find_card_numbers,
    find_in_normalised,
    is_card_number,
    luhn_valid,
    mask_card_numbers,
    normalise,
    normalised,
)
from mamori_common.card_numbers.free_text import (
    card_number_in_fields,
    ensure_no_card_number,
    ensure_no_card_numbers,
    without_card_numbers,
)
from mamori_common.card_numbers.issuers import issuer_of

__all__ = [
    "CardMatch",
    "Normalised",
    "card_number_in_fields",
    "contains_card_number",
    "digits_of",
    "ensure_no_card_number",
    "ensure_no_card_numbers",
    "find_card_numbers",
    "find_in_normalised",
    "is_card_number",
    "issuer_of",
    "luhn_valid",
    "mask_card_numbers",
    "normalise",
    "normalised",
    "without_card_numbers",
]
