"""The file that is kept: the page renderings, encoded anew, never the uploaded bytes.

A PNG or JPEG upload is kept as a PNG or JPEG of its rendering; a PDF as a PDF made of nothing but
its page renderings (one JPEG picture per page, no text layer, no annotations, no attachments, no
metadata of the original). Pillow writes only the pixels here: the images' ``info`` (EXIF, ICC,
text chunks) is emptied first so nothing of the upload's extras is written back.
"""

from __future__ import annotations

import io

from PIL import Image

PDF, PNG, JPEG = "application/pdf", "image/png", "image/jpeg"
_JPEG_QUALITY = 88
#: The renderings' resolution written into the kept PDF (72 dpi times the render scale), so its
#: pages have the statement's size.
_POINTS_PER_INCH = 72


def _bare(image: Image.Image) -> Image.Image:
    bare = image.convert("RGB")
    bare.info = {}
    return bare


def encode(renderings: list[Image.Image], content_type: str, *, render_scale: float) -> bytes:
    """The kept file for ``renderings`` in the upload's type (``content_type``, sniffed from its bytes)."""
    buffer = io.BytesIO()
    pages = [_bare(image) for image in renderings]
    if content_type == PDF:
        pages[0].save(
            buffer,
            format="PDF",
            save_all=True,
            append_images=pages[1:],
            resolution=_POINTS_PER_INCH * render_scale,
            quality=_JPEG_QUALITY,
        )
    elif content_type == JPEG:
        pages[0].save(buffer, format="JPEG", quality=_JPEG_QUALITY)
    else:
        pages[0].save(buffer, format="PNG")
    return buffer.getvalue()
