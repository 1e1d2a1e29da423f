"""What a statement shows that the checklist asks for: the card's last 4, the name, an address, a phone.

Pure functions on the text read from a document (its text layer or OCR), after the card-number
check. A masked card number is mask characters (``*``, ``X``, ``•``, ``●``, ``#``) then 4 digits,
or the 4 digits after "ending in" / "下4桁" / "末尾", or the only 4 digits after the word "card" (OCR
reads mask stars as letters); a name is found when the held payment's
holder name appears (case, spaces and width ignored); an address by a Japanese postcode
(``〒123-4567``); a phone by a dialled number (``03-1234-5678``, ``+81 90-1234-5678``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mamori_common.card_numbers.detector import normalise

_MASKED = re.compile(r"[*xX•●#](?:[*xX•●# \-]){3,}?\s?-?\s?([0-9]{4})(?![0-9])")
_WORDED = re.compile(
    r"(?:下\s?4\s?桁|末尾|ending in|ending|last 4 digits|last four digits)\s*[:：]?\s*([0-9]{4})(?![0-9])",
    re.IGNORECASE,
)
#: OCR reads mask stars as letters ("KKKK", "大"): 4 digits after the word "card" and no other digit.
_AFTER_CARD = re.compile(r"(?:card|カード)[^0-9\n]{0,40}?([0-9]{4})(?![0-9])", re.IGNORECASE)
_POSTCODE = re.compile(r"(?:〒\s?)?(?<![0-9\-])[0-9]{3}-[0-9]{4}(?![0-9\-])")
_PHONE = re.compile(r"(?<![0-9\-])(?:\+81[ \-]?[1-9]|0)[0-9]{0,3}[ \-][0-9]{1,4}[ \-][0-9]{3,4}(?![0-9\-])")


@dataclass
class StatementFindings:
    last4: list[str] = field(default_factory=list)
    name: bool = False
    address: bool = False
    phone: bool = False


def _compact(text: str) -> str:
    return "".join(normalise(text).casefold().split())


def read_statement(text: str, holder_name: str | None) -> StatementFindings:
    normal = normalise(text)
    last4 = [match.group(1) for pattern in (_MASKED, _WORDED, _AFTER_CARD) for match in pattern.finditer(normal)]
    return StatementFindings(
        last4=sorted(set(last4)),
        name=bool(holder_name) and _compact(holder_name or "") in _compact(text),
        address=bool(_POSTCODE.search(normal)),
        phone=bool(_PHONE.search(normal)),
    )
