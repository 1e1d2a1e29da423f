"""Blacking out card digits on an image, from the OCR word boxes (a margin round each box)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from services.verification.scanning.ocr import Word

_MARGIN = 4


def mask(image: Image.Image, boxes: list[Word]) -> Image.Image:
    masked = image.convert("RGB")
    draw = ImageDraw.Draw(masked)
    for box in boxes:
        draw.rectangle(
            (box.left - _MARGIN, box.top - _MARGIN, box.left + box.width + _MARGIN, box.top + box.height + _MARGIN),
            fill="black",
        )
    return masked


def encode(image: Image.Image, content_type: str) -> bytes:
    """The masked copy in the upload's own format (re-encoded: no metadata of the original kept)."""
    buffer = io.BytesIO()
    if content_type == "image/jpeg":
        image.save(buffer, format="JPEG", quality=90)
    else:
        image.save(buffer, format="PNG")
    return buffer.getvalue()
