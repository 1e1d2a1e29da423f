"""Blacking out card digits on a page rendering, from the OCR word boxes (a margin round each box)."""

from __future__ import annotations

from PIL import Image, ImageDraw

from services.verification.scanning.engines import Word

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
