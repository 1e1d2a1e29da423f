"""What a statement shows that the checklist asks for: the card's last 4, the name, an address, a phone.

Pure functions on the upload's one folded text (:mod:`.reading`, folded by the kit's
``normalised``), after the card-number check. The last 4 come from a masked card number
(:mod:`.masks`: printed masks and what OCR reads them as), the 4 digits after "ending in" / "下4桁"
/ "末尾"; neither needs a kana label to be read right (RapidOCR reads ``カード番号`` as ``力一下番号``). A name is found when the held payment's
holder name appears (case, spaces and width ignored); an address by a Japanese postcode
(``〒123-4567``); a phone by a dialled number (``03-1234-5678``, ``+81 90-1234-5678``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mamori_common.card_numbers import normalise
from services.verification.scanning.masks import masked_last4

_WORDED = re.compile(
    r"(?:下\s?4\s?桁|末尾|ending in|ending|last 4 digits|last four digits)\s*[:：]?\s*([0-9]{4})(?![0-9])",
    re.IGNORECASE,
)
_POSTCODE = re.compile(r"(?:〒\s?)?(?<![0-9\-])[0-9]{3}-[0-9]{4}(?![0-9\-])")
_PHONE = re.compile(r"(?<![0-9\-])(?:\+81[ \-]?[1-9]|0)[0-9]{0,3}[ \-][0-9]{1,4}[ \-][0-9]{3,4}(?![0-9\-])")


@dataclass
class StatementFindings:
    last4: list[str] = field(default_factory=list)
    name: bool = False
    address: bool = False
    phone: bool = False


def _compact(folded: str) -> str:
    return "".join(folded.casefold().split())


def read_statement(folded: str, holder_name: str | None) -> StatementFindings:
    """What ``folded`` (the upload's text, folded once) shows for the checklist."""
    last4 = masked_last4(folded) + [match.group(1) for match in _WORDED.finditer(folded)]
    return StatementFindings(
        last4=sorted(set(last4)),
        name=bool(holder_name) and _compact(normalise(holder_name or "")) in _compact(folded),
        address=bool(_POSTCODE.search(folded)),
        phone=bool(_PHONE.search(folded)),
    )
