"""OCR engines behind one interface: a page image in, words with their boxes out.

Two engines read statements: RapidOCR (PP-OCRv4 detection and recognition, whose ONNX models ship
inside its wheel, so a machine with only what ``pip`` installs can scan a photo) and Debian's
Tesseract (``jpn+eng``). ``MAMORI_OCR_ENGINE`` picks one (``rapidocr`` or ``tesseract``); the
scan never cares which: it joins the words into lines and reads those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from PIL import Image

from services.verification.config import VerificationSettings


class OcrUnavailable(RuntimeError):
    """The engine is missing or failed: the upload cannot be checked, so it is not kept."""


@dataclass(frozen=True)
class Word:
    """A piece of text the engine read (a word, or a run of words on one line), with its box in the
    coordinates of the image it was given. Lines are made from the boxes (:mod:`..reading`), the
    same way for every engine."""

    text: str
    left: int
    top: int
    width: int
    height: int


class OcrEngine(Protocol):
    @property
    def name(self) -> str: ...

    def read(self, image: Image.Image) -> list[Word]:
        """The words on ``image``; raises :class:`OcrUnavailable` when the engine cannot run."""
        ...


def engine_for(settings: VerificationSettings) -> OcrEngine:
    """The engine the settings name (imported only when chosen: each pulls in its own stack)."""
    if settings.ocr_engine == "tesseract":
        from services.verification.scanning.engines.tesseract import TesseractEngine

        return TesseractEngine(
            command=settings.tesseract_command,
            languages=settings.ocr_languages,
            timeout=settings.ocr_timeout_seconds,
        )
    from services.verification.scanning.engines.rapid import rapid_engine

    return rapid_engine(settings.ocr_threads)
