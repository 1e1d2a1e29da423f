"""Where the full card numbers are: the pages they are on, and the OCR boxes that show them.

The kit's detector runs once, on the upload's one folded text (:mod:`.reading`); this module only
maps what it found back onto the pages and the word boxes.
"""

from __future__ import annotations

from mamori_common.card_numbers import CardMatch, Normalised, find_in_normalised
from services.verification.scanning.engines import Word
from services.verification.scanning.reading import Reading


def find(folded: Normalised) -> list[CardMatch]:
    """Every full card number in the folded reading, with offsets into the reading's text."""
    return find_in_normalised(folded)


def pages_with(reading: Reading, matches: list[CardMatch]) -> list[int]:
    """The 1-based pages a full card number shows on."""
    return sorted({reading.page_at(match.start) + 1 for match in matches})


def boxes_of(reading: Reading, matches: list[CardMatch]) -> tuple[dict[int, list[Word]], bool]:
    """The OCR boxes (by 0-based page) showing the matches' digits, and whether every match is
    on OCR boxes (False when one is in a text layer only: painting cannot remove that).

    A trailing box holding only the last 4 digits is left visible: the statement may show those,
    they are what the check compares.
    """
    boxes: dict[int, list[Word]] = {}
    all_on_boxes = True
    for match in matches:
        covered = [placed for placed in reading.words if placed.start < match.end and placed.end > match.start]
        if not covered:
            all_on_boxes = False
            continue
        if len(covered) > 1 and covered[-1].word.text.strip() == match.last4:
            covered = covered[:-1]
        for placed in covered:
            boxes.setdefault(placed.page, []).append(placed.word)
    return boxes, all_on_boxes
