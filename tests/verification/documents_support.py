"""Statements made for tests: text PDFs (fpdf2), image-only PDFs, PNG and JPEG drawn with Pillow.

Japanese text is drawn with the machine's Noto CJK font, found through fontconfig (Debian's
fonts-noto-cjk, installed by .ci/run); the font's name, never its path, is written here.
"""

from __future__ import annotations

import functools
import io
import subprocess

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont


@functools.cache
def cjk_font_file() -> str:
    found = subprocess.run(
        ["fc-match", "-f", "%{file}", "Noto Sans CJK JP"], capture_output=True, text=True, check=True
    )
    return found.stdout.strip()


def text_pdf(*lines: str, pages: int = 1) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for _ in range(pages):
        pdf.add_page()
        for line in lines:
            pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def drawn(*lines: str, size: int = 36, width: int = 1400) -> Image.Image:
    font = ImageFont.truetype(cjk_font_file(), size)
    image = Image.new("RGB", (width, 120 + len(lines) * (size + 30)), "white")
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((50, 60 + index * (size + 30)), line, fill="black", font=font)
    return image


def png(*lines: str) -> bytes:
    buffer = io.BytesIO()
    drawn(*lines).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(*lines: str) -> bytes:
    buffer = io.BytesIO()
    drawn(*lines).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def image_pdf(*lines: str) -> bytes:
    """A PDF whose page is only a picture (a scanned statement): no text layer at all."""
    buffer = io.BytesIO()
    drawn(*lines).save(buffer, format="PDF", resolution=150)
    return buffer.getvalue()


def encrypted_pdf(*lines: str) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    for line in lines:
        pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    pdf.set_encryption(owner_password="owner", user_password="user")
    return bytes(pdf.output())


def phone_photo(*lines: str, width: int = 2700, height: int = 2000) -> bytes:
    """A statement as a phone takes it: a large JPEG with sensor noise (about 2 MB), text dark grey
    on light grey, in the upper part of the frame."""
    font = ImageFont.truetype(cjk_font_file(), 64)
    page = Image.new("L", (width, height), 235)
    draw = ImageDraw.Draw(page)
    for index, line in enumerate(lines):
        draw.text((120, 200 + index * 140), line, fill=20, font=font)
    noisy = Image.blend(page, Image.effect_noise((width, height), 70), 0.15).convert("RGB")
    buffer = io.BytesIO()
    noisy.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()
