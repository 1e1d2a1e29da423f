"""OCR words back into lines of text, and card numbers found in a line back onto word boxes.

A line is its words joined by single spaces; each word remembers its span in that text, so a
card number the detector finds at ``start:end`` maps to the words (boxes) it covers.
"""

from __future__ import annotations

from dataclasses import dataclass

from mamori_common.card_numbers.detector import CardMatch, find_card_numbers
from services.verification.scanning.ocr import Word


@dataclass(frozen=True)
class Line:
    text: str
    words: list[tuple[int, int, Word]]

    def words_in(self, match: CardMatch) -> list[Word]:
        """The words a card number covers, except a trailing word holding only its last 4 digits
        (the statement may keep showing those: they are what the check compares)."""
        covered = [(start, end, word) for start, end, word in self.words if start < match.end and end > match.start]
        if len(covered) > 1 and covered[-1][2].text.strip() == match.last4:
            covered = covered[:-1]
        return [word for _, _, word in covered]


def lines_of(words: list[Word]) -> list[Line]:
    grouped: dict[tuple[int, int, int], list[Word]] = {}
    for word in words:
        grouped.setdefault(word.line, []).append(word)
    lines = []
    for key in sorted(grouped):
        text = ""
        spans = []
        for word in sorted(grouped[key], key=lambda item: item.left):
            if text:
                text += " "
            spans.append((len(text), len(text) + len(word.text), word))
            text += word.text
        lines.append(Line(text, spans))
    return lines


def card_words(lines: list[Line]) -> list[Word]:
    """Every word box that shows part of a full card number."""
    boxes: list[Word] = []
    for line in lines:
        for match in find_card_numbers(line.text):
            boxes.extend(line.words_in(match))
    return boxes
