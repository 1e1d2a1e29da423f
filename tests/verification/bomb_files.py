"""Bombs made for tests (and the RSS bench): small files that are huge once opened.

Each is written by hand, byte by byte, so nothing here needs a library that would refuse to
write them. A PDF is kept minimal but valid enough that pdfium opens it (cross-reference table
with the right offsets).
"""

from __future__ import annotations

import functools
import struct
import zlib

MEGABYTE = 1024 * 1024


def pdf(objects: list[bytes]) -> bytes:
    """A PDF of ``objects`` (object 1 the catalog), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def page_pdf(content: bytes, *, media_box: bytes = b"[0 0 595 842]", content_filter: bytes = b"/FlateDecode") -> bytes:
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox " + media_box + b" /Contents 4 0 R /Resources << >> >>",
            stream(b"/Filter " + content_filter if content_filter else b"", content),
        ]
    )


@functools.cache
def zeros_deflated(megabytes: int) -> bytes:
    """``megabytes`` MB of spaces, deflated (about 1 KB per MB), in well under a second: after a
    full flush the deflater forgets what came before, so every further megabyte is the same block."""
    piece = b" " * MEGABYTE
    deflater = zlib.compressobj(9)
    head = deflater.compress(piece) + deflater.flush(zlib.Z_FULL_FLUSH)
    block = deflater.compress(piece) + deflater.flush(zlib.Z_FULL_FLUSH)
    checksum = 1
    for _ in range(megabytes):
        checksum = zlib.adler32(piece, checksum)
    tail = deflater.flush()[:-4] + struct.pack(">I", checksum)  # the final empty block, our checksum
    return head + block * (megabytes - 1) + tail


def flate_bomb_pdf(megabytes: int = 300) -> bytes:
    """One page whose content stream inflates to ``megabytes`` MB."""
    return page_pdf(zeros_deflated(megabytes))


def double_flate_bomb_pdf(megabytes: int = 300) -> bytes:
    """The same, deflated twice (``/Filter [/FlateDecode /FlateDecode]``): a few KB."""
    return page_pdf(zlib.compress(zeros_deflated(megabytes), 9), content_filter=b"[/FlateDecode /FlateDecode]")


def unlabelled_flate_bomb_pdf(megabytes: int = 300) -> bytes:
    """A flate bomb whose /Filter hides behind an indirect reference the byte reader cannot follow."""
    data = zeros_deflated(megabytes)
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>",
            b"<< /Filter 5 0 R /Length %d >>\nstream\n" % len(data) + data + b"\nendstream",
            b"/FlateDecode",
        ]
    )


def huge_page_pdf(inches: int = 200) -> bytes:
    """One page ``inches`` inches square with one short line of text: 966 bytes or so."""
    side = b"%d" % (inches * 72)
    text = b"BT /F1 12 Tf 72 72 Td (Statement) Tj ET"
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 " + side + b" " + side + b"] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            stream(b"", text),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def huge_image_pdf(side: int = 20_000) -> bytes:
    """An A4 page drawing one image that declares ``side`` x ``side`` grey pixels (a few KB)."""
    pixels = zeros_deflated(1)
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /XObject << /Im1 5 0 R >> >> >>",
            stream(b"", b"q 595 0 0 842 0 0 cm /Im1 Do Q"),
            stream(
                b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray"
                b" /BitsPerComponent 8 /Filter /FlateDecode" % (side, side),
                pixels,
            ),
        ]
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header announces ``width`` x ``height`` and whose pixel data is a few rows."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")


def jpeg_declaring(width: int, height: int) -> bytes:
    """A JPEG whose frame header announces ``width`` x ``height`` (a decompression bomb's header)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"
