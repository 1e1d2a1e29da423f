"""What an uploaded file is, and whether it is safe to look inside: type by bytes, limits, opening.

The client's name and content type are never believed: a PDF starts ``%PDF-``, a PNG with its
8-byte signature, a JPEG with ``FF D8 FF``; anything else is ``unsupported_file``. Empty,
encrypted, corrupt, oversized (pixels) and too-many-page files are refused here with a problem a
customer can act on, before any scan runs. Nothing here writes anything anywhere.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
from PIL import Image

from mamori_common.problems import Problem

PDF, PNG, JPEG = "application/pdf", "image/png", "image/jpeg"
_SIGNATURES = ((b"%PDF-", PDF), (b"\x89PNG\r\n\x1a\n", PNG), (b"\xff\xd8\xff", JPEG))
#: The largest page PDF allows (200 inches); a bigger one is a trick, not a statement.
_MAX_PAGE_POINTS = 14_400


@dataclass
class Inspected:
    content_type: str
    pages: int
    #: An open PDF (closed by :meth:`close`), or the one decoded image.
    pdf: pdfium.PdfDocument | None = None
    image: Image.Image | None = None
    notes: list[str] = field(default_factory=list)

    def close(self) -> None:
        if self.pdf is not None:
            self.pdf.close()


def sniff(data: bytes) -> str | None:
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    return None


def refuse(code: str, detail: str, status: int = 422, **extra: Any) -> Problem:
    return Problem(status, code, detail, **extra)


def inspect(data: bytes, *, max_pages: int, max_pixels: int) -> Inspected:
    """Open ``data`` (already under the byte cap) or raise the problem that says why not."""
    if not data:
        raise refuse("empty_file", "The file is empty.")
    content_type = sniff(data)
    if content_type is None:
        raise refuse("unsupported_file", "Send a PDF, PNG or JPEG file.", status=415, accepted=[PDF, PNG, JPEG])
    if content_type == PDF:
        return _open_pdf(data, max_pages=max_pages)
    return _open_image(data, content_type, max_pages=max_pages, max_pixels=max_pixels)


def _open_pdf(data: bytes, *, max_pages: int) -> Inspected:
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium_raw.FPDF_ERR_PASSWORD:
            raise refuse("file_encrypted", "The PDF is password-protected. Send it without a password.") from exc
        raise refuse("file_corrupt", "The PDF is damaged and cannot be read.") from exc
    try:
        if pdfium_raw.FPDF_GetSecurityHandlerRevision(document.raw) != -1:
            raise refuse("file_encrypted", "The PDF is encrypted. Send it without a password or restrictions.")
        pages = len(document)
        if pages == 0:
            raise refuse("file_corrupt", "The PDF has no pages.")
        if pages > max_pages:
            raise refuse("too_many_pages", f"Send at most {max_pages} pages.", max_pages=max_pages, pages=pages)
        for index in range(pages):
            width, height = document.get_page_size(index)
            if not (0 < width <= _MAX_PAGE_POINTS and 0 < height <= _MAX_PAGE_POINTS):
                raise refuse("decompression_bomb", "A page of the PDF is larger than any statement.", page=index + 1)
    except BaseException:
        document.close()
        raise
    return Inspected(PDF, pages, pdf=document)


def _open_image(data: bytes, content_type: str, *, max_pages: int, max_pixels: int) -> Inspected:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise refuse(
                    "decompression_bomb", "The image has far more pixels than a statement photo.", max_pixels=max_pixels
                )
            frames = getattr(image, "n_frames", 1)
            if frames > max_pages:
                raise refuse("too_many_pages", f"Send at most {max_pages} pages.", max_pages=max_pages)
            image.load()
    except Problem:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise refuse("decompression_bomb", "The image has far more pixels than a statement photo.") from exc
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError ... on broken files
        raise refuse("file_corrupt", "The image is damaged and cannot be read.") from exc
    return Inspected(content_type, 1, image=image)
