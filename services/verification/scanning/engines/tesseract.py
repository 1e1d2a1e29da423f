"""OCR with Debian's Tesseract (Japanese and English): the program, called directly.

Tesseract reads the image from its standard input and writes TSV to its standard output: the
image of a statement that may show a full card number never becomes a file, not even a temporary
one (pytesseract's helpers write both the image and the result to temporary files, which is why
the program is called directly). ``--psm 11`` finds sparse text (statements are tables).
"""

from __future__ import annotations

import csv
import io
import subprocess
from dataclasses import dataclass

from PIL import Image

from services.verification.scanning.engines import OcrUnavailable, Word


def prepare(image: Image.Image) -> Image.Image:
    """Greyscale; small images enlarged so digits are at least ~20 px high for Tesseract."""
    grey = image.convert("L")
    if grey.width < 1200:
        factor = 1200 / grey.width
        grey = grey.resize((1200, max(1, int(grey.height * factor))), Image.Resampling.LANCZOS)
    return grey


@dataclass(frozen=True)
class TesseractEngine:
    command: str
    languages: str
    timeout: float
    name: str = "tesseract"

    def read(self, image: Image.Image) -> list[Word]:
        """Words Tesseract finds in ``image``, in the coordinates of ``image`` itself."""
        prepared = prepare(image)
        scale = prepared.width / image.width
        buffer = io.BytesIO()
        prepared.save(buffer, format="PNG")
        try:
            result = subprocess.run(
                [self.command, "stdin", "stdout", "-l", self.languages, "--psm", "11", "tsv"],
                input=buffer.getvalue(),
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OcrUnavailable(f"tesseract did not run: {type(exc).__name__}") from exc
        if result.returncode != 0:
            raise OcrUnavailable(f"tesseract failed with code {result.returncode}")
        return _parse_tsv(result.stdout.decode("utf-8", errors="replace"), scale)


def _parse_tsv(tsv: str, scale: float) -> list[Word]:
    words = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text:
            continue
        words.append(
            Word(
                text=text,
                left=int(int(row["left"]) / scale),
                top=int(int(row["top"]) / scale),
                width=int(int(row["width"]) / scale) + 1,
                height=int(int(row["height"]) / scale) + 1,
            )
        )
    return words
