"""Caps checked on an upload's raw bytes before any parser (pdfium, Pillow) opens it.

A 1 MB PDF can carry a content stream that inflates to 1 GB, a 1 KB PDF a page 200 inches square
whose rendering OCR reads for seconds, a 100-byte PNG header a 30,000 x 30,000 image. pdfium and
Pillow would find out by doing the work, in memory; here the bytes are only read:

- every stream of a PDF is decoded through its filters with a bounded inflater (``zlib``'s
  ``decompressobj`` with ``max_length``), counting, not keeping, what comes out; the document's
  streams together may inflate to :attr:`BombLimits.max_inflated_bytes`. A stream whose data
  looks like zlib is counted even without a ``/Filter`` we could read (a dictionary written to
  mislead this reader still costs pdfium what it inflates to). LZW is refused: no statement
  printer writes it today, and its expansion cannot be bounded without decoding it.
- every image in a PDF may declare at most :attr:`BombLimits.max_image_pixels` pixels, and every
  page box, rendered at the OCR scale, at most :attr:`BombLimits.max_render_pixels`;
- a PNG's ``IHDR`` and a JPEG's frame header give the image's size before any pixel is decoded.

This is the cheap, early refusal; the scan's child process (:mod:`.sandbox`) with its memory and
CPU limits is the guarantee behind it, for whatever this reader does not see.
"""

from __future__ import annotations

import base64
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mamori_common.problems import Problem

BOMB_TITLE = "The file is too large once opened"
BOMB_JA = "ファイルを開くと大きすぎるため、確認できません。明細書をそのまま撮った写真か、通常のPDFをお送りください。"
BOMB_EN = "The file is far larger once opened than any statement. Send a plain photo or PDF of the statement."

#: Inflated output is counted in pieces of this size (never held whole).
_PIECE = 1 << 20
#: A filter before the last one in a chain is decoded into memory: at most this much.
_CHAIN_LIMIT = 32 * 1024 * 1024
_STREAM = re.compile(rb">>\s*stream(?:\r\n|\n|\r)")
_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[A-Za-z0-9]+)")
_NAME = re.compile(rb"/([A-Za-z0-9]+)")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?!\s+\d+\s+R)")
_IMAGE = re.compile(rb"/Subtype\s*/Image\b")
_WIDTH = re.compile(rb"/(?:Width|W)\s+(\d+)(?!\s+\d+\s+R)")
_HEIGHT = re.compile(rb"/(?:Height|H)\s+(\d+)(?!\s+\d+\s+R)")
_NUMBER = rb"\s*(-?\d+(?:\.\d*)?|-?\.\d+)"
_BOX = re.compile(rb"/(?:MediaBox|CropBox)\s*\[" + _NUMBER * 4 + rb"\s*\]")
_USER_UNIT = re.compile(rb"/UserUnit\s+(\d+(?:\.\d*)?)")
_ASCII_FILTERS = {b"ASCIIHexDecode", b"AHx", b"ASCII85Decode", b"A85"}
_FLATE = {b"FlateDecode", b"Fl"}
_RUN_LENGTH = {b"RunLengthDecode", b"RL"}
_LZW = {b"LZWDecode", b"LZW"}


@dataclass(frozen=True)
class BombLimits:
    #: All of a PDF's streams, inflated, together.
    max_inflated_bytes: int
    #: One image (a PNG or JPEG upload, or an image inside a PDF).
    max_image_pixels: int
    #: One PDF page rendered at ``render_scale`` (72 dpi times it) for OCR.
    max_render_pixels: int
    render_scale: float


def bomb(detail: str, **limit: int) -> Problem:
    """The one refusal for every bomb, with the limit it broke (``max_pixels``, ``max_bytes``)."""
    extra: dict[str, Any] = {"detail_ja": BOMB_JA, "detail_en": BOMB_EN, **limit}
    return Problem(422, "decompression_bomb", detail, title=BOMB_TITLE, **extra)


def refuse_bombs(data: bytes, limits: BombLimits) -> None:
    """Raise ``422 decompression_bomb`` if ``data`` would be far larger opened than sent."""
    if data.startswith(b"%PDF-"):
        _check_pdf(data, limits)
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        _check_pixels(_png_size(data), limits)
    elif data.startswith(b"\xff\xd8\xff"):
        _check_pixels(_jpeg_size(data), limits)


def _check_pixels(size: tuple[int, int] | None, limits: BombLimits) -> None:
    if size is not None and size[0] * size[1] > limits.max_image_pixels:
        raise bomb("The image has far more pixels than a statement photo.", max_pixels=limits.max_image_pixels)


# --- images -------------------------------------------------------------------------------------


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the IHDR chunk, which PNG requires first."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None  # not a PNG Pillow would open either: inspection says file_corrupt
    width, height = struct.unpack(">II", data[16:24])
    return width, height


#: JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic...), not DHT/JPG/DAC.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the first start-of-frame segment, walking the segment lengths."""
    position = 2
    while position + 9 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        position += 2 + length
    return None


# --- PDF ----------------------------------------------------------------------------------------


def _check_pdf(data: bytes, limits: BombLimits) -> None:
    _check_pages(data, limits)
    budget = limits.max_inflated_bytes
    for dictionary, body in _streams(data):
        if _IMAGE.search(dictionary):
            width, height = _WIDTH.search(dictionary), _HEIGHT.search(dictionary)
            if width and height and int(width.group(1)) * int(height.group(1)) > limits.max_image_pixels:
                raise bomb(
                    "An image in the PDF has far more pixels than a statement.", max_pixels=limits.max_image_pixels
                )
        budget -= _decoded_size(body, _filters(dictionary), budget)
        if budget < 0:
            raise bomb(
                "The PDF's contents inflate to far more than any statement.", max_bytes=limits.max_inflated_bytes
            )


def _check_pages(data: bytes, limits: BombLimits) -> None:
    """Every page box written in the file, rendered at the OCR scale, within the pixel cap.

    UserUnit (a page unit larger than 1/72 inch) multiplies every box; the largest one found
    applies to every box, which can only make this stricter."""
    units = [float(match.group(1)) for match in _USER_UNIT.finditer(data)]
    unit = max([1.0, *units])
    for match in _BOX.finditer(data):
        left, bottom, right, top = (float(value) for value in match.groups())
        width, height = abs(right - left) * unit, abs(top - bottom) * unit
        if width * height * limits.render_scale**2 > limits.max_render_pixels:
            raise bomb("A page of the PDF is larger than any statement.", max_pixels=limits.max_render_pixels)


def _streams(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(dictionary, data) of every stream: data runs to the larger of ``/Length`` and the next
    ``endstream`` (a wrong /Length must not hide bytes pdfium would find)."""
    for match in _STREAM.finditer(data):
        dictionary = _dictionary_before(data, match.start() + 2)
        start = match.end()
        end = data.find(b"endstream", start)
        end = len(data) if end < 0 else end
        length = _LENGTH.search(dictionary)
        if length:
            end = max(end, min(len(data), start + int(length.group(1))))
        yield dictionary, data[start:end]


def _dictionary_before(data: bytes, end: int) -> bytes:
    """The ``<< ... >>`` ending at ``end``, found by counting nested brackets backwards."""
    depth = 0
    position = end - 2
    floor = max(0, end - 256 * 1024)
    while position >= floor:
        pair = data[position : position + 2]
        if pair == b">>":
            depth += 1
            position -= 2
            continue
        if pair == b"<<":
            depth -= 1
            if depth == 0:
                return data[position:end]
            position -= 2
            continue
        position -= 1
    return data[floor:end]


def _filters(dictionary: bytes) -> list[bytes]:
    found = _FILTER.search(dictionary)
    return _NAME.findall(found.group(1)) if found else []


def _looks_like_zlib(body: bytes) -> bool:
    return len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0


def _decoded_size(body: bytes, filters: list[bytes], budget: int) -> int:
    """How many bytes ``body`` decodes to through ``filters`` (counting stops past ``budget``)."""
    if any(name in _LZW for name in filters):
        raise bomb("The PDF uses LZW compression, which cannot be checked. Save it again as a normal PDF.")
    if not filters and _looks_like_zlib(body):
        filters = [b"FlateDecode"]
    for index, name in enumerate(filters):
        last = index == len(filters) - 1
        if name in _FLATE:
            if last:
                return _inflated_count(body, budget)
            body = _inflated(body, min(budget, _CHAIN_LIMIT))
        elif name in _RUN_LENGTH:
            body = _run_length(body, min(budget, _CHAIN_LIMIT) + 1)
        elif name in _ASCII_FILTERS:
            body = _ascii_decoded(body, name)
        else:
            return len(body)  # images (DCT, JPX, JBIG2, CCITT): their pixel count is checked instead
        if len(body) > budget:
            return len(body)
    return len(body)


def _inflated_count(body: bytes, budget: int) -> int:
    inflater = zlib.decompressobj()
    total = 0
    pending = body
    try:
        while pending and total <= budget:
            total += len(inflater.decompress(pending, _PIECE))
            if inflater.eof:
                break
            pending = inflater.unconsumed_tail
    except zlib.error:
        pass  # pdfium keeps what inflated before the damage; so is it counted
    return total


def _inflated(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        return inflater.decompress(body, limit + 1)
    except zlib.error:
        return b""


def _run_length(body: bytes, limit: int) -> bytes:
    out = bytearray()
    position = 0
    while position < len(body) and len(out) < limit:
        length = body[position]
        if length == 128:
            break
        if length < 128:
            out += body[position + 1 : position + 2 + length]
            position += 2 + length
        else:
            out += body[position + 1 : position + 2] * (257 - length)
            position += 2
    return bytes(out)


def _ascii_decoded(body: bytes, name: bytes) -> bytes:
    try:
        if name in (b"ASCIIHexDecode", b"AHx"):
            digits = re.sub(rb"[^0-9A-Fa-f]", b"", body.split(b">", 1)[0])
            return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode())
        text = body.strip()
        text = text[2:] if text.startswith(b"<~") else text
        return base64.a85decode(text.split(b"~>", 1)[0], ignorechars=b" \t\r\n\f\v\x00")
    except ValueError:
        return b""
