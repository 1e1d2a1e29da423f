"""Card-number scanning: time per page, and what the detector catches beside a plain issuer regex.

Run: ``.venv/bin/python tests/bench/scan.py [--runs 15] [--seed 7]``

1. The median time to inspect and scan a one-page text PDF (text layer only) and a one-page PNG
   statement (Tesseract OCR, jpn+eng), as ``uploadDocument`` does before keeping anything.
   Aims: under 50 ms and under 2 s on this machine.
2. A generated text corpus: full card numbers written every way a statement or OCR writes them
   (spaces, dashes, full-width digits and dashes, Mastercard 2-series, Amex 4-6-5, 19-digit
   cards) and numbers that must not match (Luhn-invalid runs, phone and order numbers, masked
   numbers, 16-digit runs with no issuer prefix). Recall and false positives of our detector
   beside the classic "issuer regex" (Visa/Mastercard 51-55/Amex/Discover, bare digits).
3. The same on a small image corpus (PNG, OCR), for the detector only and the regex on the OCR text.

Figures, not assertions. Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mamori_common.card_numbers.detector import find_card_numbers, luhn_valid
from services.verification.config import VerificationSettings
from services.verification.documents.inspection import inspect
from services.verification.scanning.lines import lines_of
from services.verification.scanning.ocr import read_words
from services.verification.scanning.scan import scan
from tests.verification import documents_support as docs

#: The regex most card scanners start from: bare digits, the classic issuer prefixes.
PLAIN_ISSUER_REGEX = re.compile(
    r"\b(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|3[47][0-9]{13}|6(?:011|5[0-9]{2})[0-9]{12})\b"
)
FULLWIDTH = str.maketrans("0123456789 -", "０１２３４５６７８９　－")
PREFIXES = [
    ("4", 16),
    ("4", 19),
    ("51", 16),
    ("55", 16),
    ("2221", 16),
    ("2720", 16),
    ("34", 15),
    ("37", 15),
    ("3528", 16),
    ("6011", 16),
    ("65", 16),
    ("62", 16),
]


def card(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return next(body + digit for digit in "0123456789" if luhn_valid(body + digit))


def written(rng: random.Random, number: str) -> str:
    style = rng.choice(["bare", "spaces", "dashes", "fullwidth", "amex"])
    if style == "bare":
        return number
    if style == "amex" and len(number) == 15:
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    groups = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    if style == "dashes":
        return groups.replace(" ", "-")
    return groups.translate(FULLWIDTH) if style == "fullwidth" else groups


def negatives(rng: random.Random) -> list[str]:
    found = []
    for _ in range(60):
        number = card(rng, *rng.choice(PREFIXES))
        wrong = number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
        found.append(" ".join(wrong[i : i + 4] for i in range(0, len(wrong), 4)))
        found.append(wrong)
        found.append(f"03-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}")
        found.append(
            f"注文番号 {rng.randint(100, 999)}-{rng.randint(1000000, 9999999)}-{rng.randint(1000000, 9999999)}"
        )
        found.append(f"**** **** **** {rng.randint(1000, 9999)}")
        found.append(rng.choice("01789") + "".join(rng.choice("0123456789") for _ in range(15)))
    return found


def ours(text: str) -> bool:
    return bool(find_card_numbers(text))


def plain(text: str) -> bool:
    return bool(PLAIN_ISSUER_REGEX.search(text))


def timed(label: str, content: bytes, runs: int, settings: VerificationSettings) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        inspected = inspect(content, max_pages=settings.max_pages, max_pixels=settings.max_image_pixels)
        try:
            scan(inspected, settings)
        finally:
            inspected.close()
        samples.append((time.perf_counter() - start) * 1000)
    median = statistics.median(samples)
    print(f"{label:<32} median {median:8.1f} ms  (min {min(samples):.1f}, max {max(samples):.1f}, {runs} runs)")
    return median


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--images", type=int, default=12, help="images per side in the OCR corpus")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    settings = VerificationSettings()

    print("== Time to scan one page (inspect + scan, as uploadDocument does)")
    redacted = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka", "Tel: 03-1234-5678")
    pdf_ms = timed("one-page text PDF", docs.text_pdf(*redacted), args.runs, settings)
    png_ms = timed("one-page PNG (OCR jpn+eng)", docs.png("ご利用明細書", *redacted), max(3, args.runs // 3), settings)
    print(
        f"aims: text PDF under 50 ms -> {pdf_ms:.1f} ms ({pdf_ms / 50:.2f}x the aim); "
        f"image under 2000 ms -> {png_ms:.0f} ms ({png_ms / 2000:.2f}x the aim)"
    )

    print("\n== Text corpus: recall (full numbers found) and false positives (others flagged)")
    positives = [f"カード {written(rng, card(rng, *rng.choice(PREFIXES)))} ご利用" for _ in range(600)]
    others = negatives(rng)
    for name, finder in (("our detector", ours), ("plain issuer regex", plain)):
        found = sum(1 for text in positives if finder(text))
        false = sum(1 for text in others if finder(text))
        print(
            f"{name:<20} recall {found}/{len(positives)} ({found / len(positives):.1%})   "
            f"false positives {false}/{len(others)}"
        )

    print(f"\n== Image corpus ({args.images} with a full number, {args.images} without; OCR then detection)")
    image_positive = [written(rng, card(rng, *rng.choice(PREFIXES))) for _ in range(args.images)]
    image_negative = [rng.choice(others) for _ in range(args.images)]
    results = {"our detector": [0, 0], "plain issuer regex": [0, 0]}
    for index, line in enumerate(image_positive + image_negative):
        image = docs.drawn("ご利用明細書 Statement", f"カード番号 {line}")
        words, _ = read_words(
            image,
            command=settings.tesseract_command,
            languages=settings.ocr_languages,
            timeout=settings.ocr_timeout_seconds,
        )
        text = "\n".join(item.text for item in lines_of(words))
        for name, finder in (("our detector", ours), ("plain issuer regex", plain)):
            if finder(text):
                results[name][0 if index < args.images else 1] += 1
    for name, (found, false) in results.items():
        print(
            f"{name:<20} recall {found}/{args.images} ({found / args.images:.1%})   "
            f"false positives {false}/{args.images}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
