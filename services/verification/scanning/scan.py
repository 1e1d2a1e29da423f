"""The scan every upload passes before anything is kept: read each page, look for full card numbers.

A PDF page is read from its text layer; a page with (almost) no text, or with pictures on it, is
also rendered in memory and read by OCR, since a photo of a card pasted into a PDF has no text
layer. Images are read by OCR. A full card number anywhere means ``card_number_visible`` (422,
with the pages and how to hide the digits), unless the upload is an image and the service is set
to black the digits out instead: then only the masked copy survives, and it is read again to be
sure nothing is left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
from PIL import Image

from mamori_common.card_numbers.detector import find_card_numbers
from mamori_common.problems import Problem
from services.verification.config import VerificationSettings
from services.verification.documents.inspection import Inspected
from services.verification.scanning import masking
from services.verification.scanning.lines import Line, card_words, lines_of
from services.verification.scanning.ocr import OcrUnavailable, read_words

#: A page whose text layer has fewer characters than this is read by OCR too.
MIN_TEXT_LAYER_CHARS = 20

HOW_TO_MASK = {
    "ja": "カード番号は下4桁以外を黒く塗りつぶすか隠してから、もう一度アップロードしてください。",
    "en": "Hide every digit of the card number except the last 4 (black them out or cover them), then upload again.",
}


@dataclass
class ScanResult:
    #: The text read on each page (no full card number in it: the scan refused those).
    page_texts: list[str] = field(default_factory=list)
    #: The bytes to keep when the stored copy is a masked image, else None (keep the upload).
    masked: bytes | None = None


def card_number_visible(pages: list[int]) -> Problem:
    return Problem(
        422,
        "card_number_visible",
        f"A full card number is visible on page(s) {', '.join(map(str, pages))}. {HOW_TO_MASK['en']}",
        pages=pages,
        how_to_mask_ja=HOW_TO_MASK["ja"],
        how_to_mask_en=HOW_TO_MASK["en"],
    )


def _ocr(image: Image.Image, settings: VerificationSettings) -> list[Line]:
    try:
        words, _ = read_words(
            image,
            command=settings.tesseract_command,
            languages=settings.ocr_languages,
            timeout=settings.ocr_timeout_seconds,
        )
    except OcrUnavailable as exc:
        raise Problem(503, "scanner_unavailable", "Documents cannot be checked right now; try again later.") from exc
    return lines_of(words)


def _has_pictures(page: pdfium.PdfPage) -> bool:
    return any(True for _ in page.get_objects(filter=[pdfium_raw.FPDF_PAGEOBJ_IMAGE], max_depth=2))


def _render(page: pdfium.PdfPage, settings: VerificationSettings) -> Image.Image:
    width, height = page.get_size()
    scale = min(settings.ocr_render_scale, math.sqrt(settings.max_image_pixels / max(1.0, width * height)))
    return page.render(scale=scale, grayscale=True).to_pil()


def scan_pdf(document: pdfium.PdfDocument, settings: VerificationSettings) -> ScanResult:
    result = ScanResult()
    card_pages = []
    for index in range(len(document)):
        page = document[index]
        try:
            text = page.get_textpage().get_text_bounded()
            if len(text.strip()) < MIN_TEXT_LAYER_CHARS or _has_pictures(page):
                text += "\n" + "\n".join(line.text for line in _ocr(_render(page, settings), settings))
        finally:
            page.close()
        if find_card_numbers(text):
            card_pages.append(index + 1)
        result.page_texts.append(text)
    if card_pages:
        raise card_number_visible(card_pages)
    return result


def scan_image(image: Image.Image, content_type: str, settings: VerificationSettings) -> ScanResult:
    lines = _ocr(image, settings)
    boxes = card_words(lines)
    found = [line for line in lines if find_card_numbers(line.text)]
    if not found:
        return ScanResult(page_texts=["\n".join(line.text for line in lines)])
    if not settings.mask_images_instead_of_refusing or not boxes:
        raise card_number_visible([1])
    masked = masking.mask(image, boxes)
    again = _ocr(masked, settings)
    if any(find_card_numbers(line.text) for line in again):
        raise card_number_visible([1])
    return ScanResult(page_texts=["\n".join(line.text for line in again)], masked=masking.encode(masked, content_type))


def scan(inspected: Inspected, settings: VerificationSettings) -> ScanResult:
    if inspected.pdf is not None:
        return scan_pdf(inspected.pdf, settings)
    assert inspected.image is not None
    return scan_image(inspected.image, inspected.content_type, settings)
