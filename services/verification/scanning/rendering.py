"""What a person sees of each page: its rendering (and, for a PDF, the text layer the page carries).

The rendering is what is read by OCR and what is kept: anything a file carries that nobody sees
(a PDF's annotations' hidden contents, metadata, embedded files, form data; a PNG's text chunks,
EXIF, pixels under full transparency, later frames) is not in it, so it is neither scanned by OCR
nor stored. The text layer is read as well, because a page may show an image of its text while
the text layer holds the number (or paint a box over text that is still there to copy).

PDF pages are drawn by pdfium with their visible annotations (appearance streams), at the configured
scale, capped so no page has more than ``max_image_pixels``. Images are turned upright by their
EXIF orientation and flattened onto white.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pypdfium2 as pdfium
from PIL import Image, ImageOps

from services.verification.documents.inspection import Inspected


@dataclass
class Page:
    image: Image.Image
    #: The PDF page's text layer ('' for an image).
    text_layer: str = ""


def render(inspected: Inspected, *, scale: float, max_pixels: int) -> list[Page]:
    if inspected.pdf is not None:
        return [_pdf_page(inspected.pdf, index, scale=scale, max_pixels=max_pixels) for index in range(inspected.pages)]
    assert inspected.image is not None
    return [Page(flatten(inspected.image))]


def flatten(image: Image.Image) -> Image.Image:
    """The first frame, upright, as RGB over white (transparency can hide pixels, not keep them)."""
    image.seek(0)
    upright = ImageOps.exif_transpose(image)
    if upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info):
        rgba = upright.convert("RGBA")
        white = Image.new("RGBA", rgba.size, "white")
        return Image.alpha_composite(white, rgba).convert("RGB")
    return upright.convert("RGB")


def _pdf_page(document: pdfium.PdfDocument, index: int, *, scale: float, max_pixels: int) -> Page:
    page = document[index]
    try:
        width, height = page.get_size()
        fitted = min(scale, math.sqrt(max_pixels / max(1.0, width * height)))
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_bounded()
        finally:
            textpage.close()
        bitmap = page.render(scale=fitted)
        image = bitmap.to_pil().convert("RGB")
    finally:
        page.close()
    return Page(image, text)
