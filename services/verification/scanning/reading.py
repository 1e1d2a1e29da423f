"""The text of an upload: every page's text layer and the OCR of its rendering, as one text.

One text for the whole upload, folded once by the caller, is what the detector and the statement
checks read. Each page contributes its text layer, then the lines OCR read on its rendering; pages
(and the two parts of a page) are separated by a blank line, which never joins digit groups, so a
number is never made of two pages. OCR words become lines from their boxes (a word whose middle
lies within another's height is on its line), joined left to right by one space, the same for
every engine. Each OCR word remembers its span in the text and its page, so a card number found at
``start:end`` maps back to the boxes to black out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.verification.scanning.engines import OcrEngine, Word
from services.verification.scanning.rendering import Page

#: Between pages, and between a page's text layer and its OCR text: never joins digit groups.
BREAK = "\n\n"


@dataclass(frozen=True)
class Placed:
    """An OCR word at ``start:end`` of the text, on page ``page`` (0-based)."""

    start: int
    end: int
    page: int
    word: Word


@dataclass
class Reading:
    text: str = ""
    #: ``(start, end)`` of each page's part of ``text``.
    pages: list[tuple[int, int]] = field(default_factory=list)
    words: list[Placed] = field(default_factory=list)

    def page_at(self, offset: int) -> int:
        """The page (0-based) that character ``offset`` of the text belongs to."""
        for index, (start, end) in enumerate(self.pages):
            if start <= offset < end:
                return index
        return len(self.pages) - 1


def lines_of(words: list[Word]) -> list[list[Word]]:
    """Words grouped into lines by their boxes, top to bottom, each line left to right."""
    lines: list[tuple[float, float, list[Word]]] = []  # (top, bottom, words)
    for word in sorted(words, key=lambda item: (item.top, item.left)):
        middle = word.top + word.height / 2
        for index, (top, bottom, members) in enumerate(lines):
            if top <= middle <= bottom:
                members.append(word)
                lines[index] = (min(top, word.top), max(bottom, word.top + word.height), members)
                break
        else:
            lines.append((word.top, word.top + word.height, [word]))
    return [sorted(members, key=lambda item: item.left) for _, _, members in sorted(lines, key=lambda line: line[0])]


def read(pages: list[Page], engine: OcrEngine) -> Reading:
    """The text layer and OCR of every page (OCR always: a page's text layer may not be what it shows)."""
    reading = Reading()
    parts: list[str] = []
    offset = 0

    def add(text: str) -> None:
        nonlocal offset
        parts.append(text)
        offset += len(text)

    for number, page in enumerate(pages):
        if number:
            add(BREAK)
        start = offset
        if page.text_layer.strip():
            add(page.text_layer)
            add(BREAK)
        for line_number, line in enumerate(lines_of(engine.read(page.image))):
            if line_number:
                add("\n")
            for word_number, word in enumerate(line):
                if word_number:
                    add(" ")
                reading.words.append(Placed(offset, offset + len(word.text), number, word))
                add(word.text)
        reading.pages.append((start, offset))
    reading.text = "".join(parts)
    return reading
