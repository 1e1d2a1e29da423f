"""The scan every upload passes before anything is kept: one entry, :func:`scan_upload`.

inspect (type by bytes, limits) → render every page (what a person sees) → read (each page's text
layer and the OCR of its rendering, as one text) → fold that text once → detect full card numbers
and read the statement from that one folded text → encode the renderings as the file to keep.

A full card number anywhere means ``422 card_number_visible`` (with the pages and how to hide the
digits), unless the upload is an image, the number is on OCR boxes only, and the service is set
to black the digits out instead: then only the masked rendering survives, and it is read again to
be sure nothing is left. The uploaded bytes are never what is kept.

Everything here is in memory and returns plain data (bytes, text, numbers), so the caller may run
it in another process.
"""

from __future__ import annotations

from dataclasses import dataclass

from mamori_common.card_numbers import normalised
from mamori_common.problems import Problem
from services.verification.config import VerificationSettings
from services.verification.documents.inspection import inspect
from services.verification.scanning import detection, keeping, masking, reading
from services.verification.scanning.engines import OcrEngine, OcrUnavailable, engine_for
from services.verification.scanning.rendering import Page, render
from services.verification.scanning.statement import StatementFindings, read_statement

HOW_TO_MASK = {
    "ja": "カード番号は下4桁以外を黒く塗りつぶすか隠してから、もう一度アップロードしてください。",
    "en": "Hide every digit of the card number except the last 4 (black them out or cover them), then upload again.",
}


@dataclass(frozen=True)
class ScanResult:
    #: The type of the kept file (the upload's own type, from its bytes).
    content_type: str
    pages: int
    #: The file to keep: the page renderings, encoded anew (masked when ``masked``).
    kept: bytes
    masked: bool
    #: The upload's text, folded (no full card number in it: the scan refused those).
    text: str

    def statement(self, holder_name: str | None) -> StatementFindings:
        return read_statement(self.text, holder_name)


def card_number_visible(pages: list[int]) -> Problem:
    return Problem(
        422,
        "card_number_visible",
        f"A full card number is visible on page(s) {', '.join(map(str, pages))}. {HOW_TO_MASK['en']}",
        pages=pages,
        how_to_mask_ja=HOW_TO_MASK["ja"],
        how_to_mask_en=HOW_TO_MASK["en"],
    )


def scanner_unavailable() -> Problem:
    return Problem(503, "scanner_unavailable", "Documents cannot be checked right now; try again later.")


def scan_upload(data: bytes, settings: VerificationSettings) -> ScanResult:
    """Scan ``data`` (already under the byte cap); the result, or the problem that refuses it."""
    inspected = inspect(data, max_pages=settings.max_pages, max_pixels=settings.max_image_pixels)
    try:
        pages = render(inspected, scale=settings.ocr_render_scale, max_pixels=settings.max_image_pixels)
    finally:
        inspected.close()
    try:
        engine = engine_for(settings)
        return _scan_pages(pages, inspected.content_type, engine, settings)
    except OcrUnavailable as exc:
        raise scanner_unavailable() from exc


def _scan_pages(pages: list[Page], content_type: str, engine: OcrEngine, settings: VerificationSettings) -> ScanResult:
    read = reading.read(pages, engine)
    folded = normalised(read.text)
    matches = detection.find(folded)
    masked = False
    if matches:
        boxes, on_boxes_only = detection.boxes_of(read, matches)
        maskable = settings.mask_images_instead_of_refusing and content_type != keeping.PDF and on_boxes_only
        if not maskable:
            raise card_number_visible(detection.pages_with(read, matches))
        pages = [Page(masking.mask(page.image, boxes.get(index, []))) for index, page in enumerate(pages)]
        read = reading.read(pages, engine)
        folded = normalised(read.text)
        if detection.find(folded):
            raise card_number_visible([1])
        masked = True
    kept = keeping.encode([page.image for page in pages], content_type, render_scale=settings.ocr_render_scale)
    return ScanResult(content_type, len(pages), kept, masked, folded.text)
