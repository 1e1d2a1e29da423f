"""Card-number scanning: time per page, and what the detector catches beside a plain issuer regex.

Run: ``.venv/bin/python tests/bench/scan.py [--engine rapidocr|tesseract|both] [--runs 3] [--images 4]``

1. Per OCR engine (RapidOCR, Tesseract jpn+eng; ``--engine`` picks one), the median wall and CPU
   time of ``scan_upload`` (inspect, render, text layer and OCR of the rendering, detect, encode
   the kept copy) on a one-page text PDF and a one-page PNG statement; and, engine-free, the
   text PDF's inspect + render + text layer alone. CPU counts Tesseract's child process too.
2. A generated text corpus, per form: full card numbers of every network written every way a
   statement, pdfium, OCR or a customer writes them (bare, spaces, dashes, full width, Amex
   4-6-5, wrapped over a CRLF, dots, slashes, underscores, commas, double spaces, zero-width
   spaces, soft hyphens, Arabic-Indic and Devanagari digits), the networks added in issue 17
   (RuPay, Dankort, Verve, Troy, Elo, UzCard), and per kind the texts that must not match
   (Luhn-invalid runs, phone and order numbers, masked numbers, dates and amounts, JAN barcodes,
   Luhn-valid runs of no issuer). Our detector beside the classic "issuer regex"
   (Visa/Mastercard 51-55/Amex/Discover, bare digits). ``--detector-only`` prints just this.
3. Per engine, a rendered statement corpus through ``scan_upload``: photos with a full number
   (caught = refused), photos with only numbers that are not cards (false refusals), and redacted
   statements in Japanese and English with every mask (``*``, ``●``, ``×``, ``X``, ``•``, ``・``):
   accepted with the card's last 4 read (what meets the statement checklist item).

Figures, not assertions. Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mamori_common.card_numbers.detector import find_card_numbers, is_product_code, luhn_valid
from mamori_common.problems import Problem
from services.verification.config import VerificationSettings
from services.verification.documents.inspection import inspect
from services.verification.scanning.pipeline import scan_upload
from services.verification.scanning.rendering import render
from tests.verification import documents_support as docs

#: The regex most card scanners start from: bare digits, the classic issuer prefixes.
PLAIN_ISSUER_REGEX = re.compile(
    r"\b(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|3[47][0-9]{13}|6(?:011|5[0-9]{2})[0-9]{12})\b"
)
FULLWIDTH = str.maketrans("0123456789 -", "０１２３４５６７８９　－")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")
#: (prefix, length) for every network the detector knows, the ones added in issue 17 included.
PREFIXES = [
    ("4", 13),
    ("4", 16),
    ("4", 19),
    ("51", 16),
    ("55", 16),
    ("2221", 16),
    ("2720", 16),
    ("34", 15),
    ("37", 15),
    ("3528", 16),
    ("3589", 19),
    ("36", 14),
    ("300", 16),
    ("6011", 16),
    ("65", 16),
    ("62", 16),
    ("62", 19),
]
NEW_NETWORKS = [
    ("60", 16),  # RuPay
    ("81", 16),
    ("82", 16),
    ("508", 16),
    ("5019", 16),  # Dankort
    ("506099", 19),  # Verve
    ("506150", 16),
    ("650002", 16),
    ("9792", 16),  # Troy
    ("5067", 16),  # Elo
    ("401178", 16),
    ("438935", 16),
    ("451416", 16),
    ("457631", 16),
    ("504175", 16),
    ("509000", 16),
    ("627780", 16),
    ("636368", 16),
    ("8600", 16),  # UzCard
]


def card(rng: random.Random, prefix: str, length: int) -> str:
    while True:
        body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
        number = next(body + digit for digit in "0123456789" if luhn_valid(body + digit))
        if not is_product_code(number):  # a bare EAN-13 is a barcode to the detector, by design
            return number


def groups_of(number: str) -> list[str]:
    if len(number) == 15:
        return [number[:4], number[4:10], number[10:]]
    return [number[i : i + 4] for i in range(0, len(number), 4)]


def wrapped(number: str, separator: str = " ") -> str:
    """Written over two lines, as pdfium gives a number wrapped at the end of a line."""
    groups = groups_of(number)
    middle = len(groups) // 2
    return separator.join(groups[:middle]) + "\r\n" + separator.join(groups[middle:])


#: Every way the corpus writes a card number: the six forms of the first benchmark, then issue 17's.
FORMS: dict[str, Callable[[str], str]] = {
    "bare": lambda number: number,
    "spaces": lambda number: " ".join(groups_of(number)),
    "dashes": lambda number: "-".join(groups_of(number)),
    "full-width": lambda number: " ".join(groups_of(number)).translate(FULLWIDTH),
    "amex 4-6-5 / 4-6-4": lambda number: f"{number[:4]} {number[4:10]} {number[10:]}",
    "space-dash-space": lambda number: " - ".join(groups_of(number)),
    "wrapped (CRLF)": wrapped,
    "dots": lambda number: ".".join(groups_of(number)),
    "slashes": lambda number: "/".join(groups_of(number)),
    "underscores": lambda number: "_".join(groups_of(number)),
    "commas": lambda number: ",".join(groups_of(number)),
    "double spaces": lambda number: "  ".join(groups_of(number)),
    "zero-width spaces": lambda number: "\u200b".join(groups_of(number)),
    "soft hyphens": lambda number: "\u00ad".join(groups_of(number)),
    "Arabic-Indic digits": lambda number: " ".join(groups_of(number)).translate(ARABIC_INDIC),
    "Devanagari digits": lambda number: " ".join(groups_of(number)).translate(DEVANAGARI),
    "full-width, wrapped": lambda number: wrapped(number, "\u3000").translate(FULLWIDTH),
}


def written(rng: random.Random, number: str) -> str:
    """One of the first benchmark's forms at random (for the image corpus)."""
    form = rng.choice(["bare", "spaces", "dashes", "full-width", "amex 4-6-5 / 4-6-4"])
    return FORMS[form](number)


def negatives(rng: random.Random, each: int = 60) -> dict[str, list[str]]:
    """Texts that must not match, by kind."""
    found: dict[str, list[str]] = {}

    def add(kind: str, text: str) -> None:
        found.setdefault(kind, []).append(text)

    for _ in range(each):
        number = card(rng, *rng.choice(PREFIXES + NEW_NETWORKS))
        wrong = number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
        add("Luhn-invalid, grouped", " ".join(groups_of(wrong)))
        add("Luhn-invalid, bare", wrong)
        add(
            "phone numbers",
            f"Tel 03-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)} / 090-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
        )
        add("phone numbers", f"+81 {rng.choice(['3', '90', '80'])} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}")
        add(
            "order numbers",
            f"注文番号 {rng.randint(100, 999)}-{rng.randint(1000000, 9999999)}-{rng.randint(1000000, 9999999)}",
        )
        add("masked numbers", f"**** **** **** {rng.randint(1000, 9999)}")
        add(
            "dates, amounts on a line",
            f"{rng.randint(2020, 2030)}/{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d} "
            f"{rng.randint(1, 9_999_999):,}円 {rng.randint(1, 99_999):,}円\r\n"
            f"{rng.randint(2020, 2030)}.{rng.randint(1, 12):02d}.{rng.randint(1, 28):02d} {rng.randint(1, 9999):,}",
        )
        jan = f"49{rng.randint(0, 10**10 - 1):010d}"
        jan += str((10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(jan)) % 10) % 10)
        add("JAN barcodes", f"JAN {jan}")
        body = rng.choice("01789") + "".join(rng.choice("0123456789") for _ in range(14))
        luhn_no_issuer = next(body + digit for digit in "0123456789" if luhn_valid(body + digit))
        if not luhn_no_issuer.startswith(("81", "82", "8600", "9792")):
            add("Luhn-valid, no issuer", luhn_no_issuer)
    return found


def ours(text: str) -> bool:
    return bool(find_card_numbers(text))


def plain(text: str) -> bool:
    return bool(PLAIN_ISSUER_REGEX.search(text))


def text_corpus(rng: random.Random, per_form: int) -> None:
    """Section 2: recall per form (and on the new networks), false positives per kind."""
    print(f"\n== Text corpus: recall per form ({per_form} full numbers each, every network), ours beside the regex")
    totals = {"ours": 0, "regex": 0, "all": 0}
    for form, write in FORMS.items():
        pool = [(p, n) for p, n in PREFIXES if n in (14, 15)] if form.startswith("amex") else PREFIXES
        texts = [f"カード {write(card(rng, *rng.choice(pool)))} ご利用" for _ in range(per_form)]
        found, regex = sum(map(ours, texts)), sum(map(plain, texts))
        totals["ours"] += found
        totals["regex"] += regex
        totals["all"] += len(texts)
        print(f"  {form:<22} ours {found:>4}/{len(texts)}   plain regex {regex:>4}/{len(texts)}")
    print(
        f"  {'all forms':<22} ours {totals['ours']:>4}/{totals['all']}   plain regex {totals['regex']:>4}/{totals['all']}"
    )
    new = [f"カード {FORMS[form](card(rng, prefix, length))}" for prefix, length in NEW_NETWORKS for form in
           ("bare", "spaces", "dashes", "dots", "wrapped (CRLF)")]  # fmt: skip
    print(
        f"  {'new networks':<22} ours {sum(map(ours, new)):>4}/{len(new)}   plain regex {sum(map(plain, new)):>4}/{len(new)}"
        "   (RuPay, Dankort, Verve, Troy, Elo, UzCard)"
    )
    print("\n== False positives per kind (texts that hold no card number)")
    for kind, texts in negatives(rng).items():
        print(
            f"  {kind:<26} ours {sum(map(ours, texts)):>4}/{len(texts)}   plain regex {sum(map(plain, texts)):>4}/{len(texts)}"
        )


def _cpu() -> float:
    """CPU seconds of this process and its finished children (Tesseract runs as a child)."""
    own = os.times()
    return own.user + own.system + own.children_user + own.children_system


def timed(label: str, runs: int, work: Callable[[], object]) -> float:
    walls, cpus = [], []
    for _ in range(runs):
        start, cpu = time.perf_counter(), _cpu()
        work()
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((_cpu() - cpu) * 1000)
    median = statistics.median(walls)
    print(
        f"  {label:<44} median {median:8.1f} ms wall, {statistics.median(cpus):8.1f} ms CPU"
        f"  (min {min(walls):.1f}, max {max(walls):.1f}, {runs} runs)"
    )
    return median


def text_layer_only(content: bytes, settings: VerificationSettings) -> None:
    inspected = inspect(content, max_pages=settings.max_pages, max_pixels=settings.max_image_pixels)
    try:
        render(inspected, scale=settings.ocr_render_scale, max_pixels=settings.max_image_pixels)
    finally:
        inspected.close()


def outcome(content: bytes, settings: VerificationSettings) -> tuple[str, list[str]]:
    """("kept", last 4 read) or ("refused", []) for one upload."""
    try:
        result = scan_upload(content, settings)
    except Problem as problem:
        if problem.code != "card_number_visible":
            raise
        return "refused", []
    return "kept", result.statement(None).last4


MASKS = {"*": "****", "●": "●●●●", "×": "××××", "X": "XXXX", "•": "••••", "・": "・・・・"}


#: (language, mask) of the redacted statements: the two masks of issue 17 in both languages.
REDACTED = [("ja", "*"), ("en", "*"), ("ja", "●"), ("en", "●"), ("en", "×"), ("en", "X"), ("ja", "・"), ("en", "•")]


def redacted_statement(language: str, mask: str, last4: str) -> bytes:
    """A statement header, the masked number, a name, rendered as a PNG photo."""
    number = " ".join([MASKS[mask]] * 3 + [last4])
    if language == "ja":
        return docs.png("ご利用明細書", f"カード番号 {number}", "ご請求先 田中 由紀 様")
    return docs.png("Monthly statement", f"Card number {number}", "Name: Yuki Tanaka")


def engine_figures(engine: Literal["rapidocr", "tesseract"], args: argparse.Namespace, rng: random.Random) -> None:
    settings = VerificationSettings(ocr_engine=engine)
    scan_upload(docs.png("warm-up"), settings)  # RapidOCR loads its models once per process
    print(f"\n== {engine}: time per page (scan_upload: inspect, render, text layer + OCR, detect, encode)")
    redacted = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka", "Tel: 03-1234-5678")
    pdf, png = docs.text_pdf(*redacted), docs.png("ご利用明細書", *redacted)
    timed("one-page text PDF", args.runs, lambda: scan_upload(pdf, settings))
    timed("one-page PNG statement", args.runs, lambda: scan_upload(png, settings))

    others = [text for texts in negatives(rng).values() for text in texts]
    positives = [written(rng, card(rng, *rng.choice(PREFIXES))) for _ in range(args.images)]
    clean = [rng.choice(others).replace("\r\n", " ") for _ in range(args.images)]
    caught = sum(
        outcome(docs.png("ご利用明細書 Statement", f"カード番号 {line}"), settings)[0] == "refused"
        for line in positives
    )
    false = sum(outcome(docs.png("ご利用明細書 Statement", line), settings)[0] == "refused" for line in clean)
    accepted = 0
    missed = []
    for language, mask in REDACTED:
        last4 = f"{rng.randint(0, 9999):04d}"
        kept, read = outcome(redacted_statement(language, mask, last4), settings)
        if kept == "kept" and last4 in read:
            accepted += 1
        else:
            missed.append(f"{language}:{mask}")
    print(f"== {engine}: rendered statement corpus (PNG through scan_upload)")
    print(f"  full numbers caught        {caught}/{len(positives)}")
    print(f"  false refusals             {false}/{len(clean)}   (phone, order, Luhn-invalid, masked, dates)")
    print(
        f"  redacted accepted, last 4  {accepted}/{len(REDACTED)}   ({' '.join(f'{lang}:{mask}' for lang, mask in REDACTED)})"
        + (f"; missed: {' '.join(missed)}" if missed else "")
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--images", type=int, default=2, help="photos per side (with / without a full number)")
    parser.add_argument("--per-form", type=int, default=200, help="full numbers per form in the text corpus")
    parser.add_argument("--engine", choices=["rapidocr", "tesseract", "both"], default="both")
    parser.add_argument("--detector-only", action="store_true", help="only the text corpus (no timing, no OCR)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    text_corpus(rng, args.per_form)
    if args.detector_only:
        return 0

    settings = VerificationSettings()
    pdf = docs.text_pdf("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka")
    print("\n== Text PDF without OCR (inspect + render + text layer), for reference")
    timed("one-page text PDF, no OCR", args.runs * 3, lambda: text_layer_only(pdf, settings))
    engines: list[Literal["rapidocr", "tesseract"]] = (
        ["rapidocr", "tesseract"] if args.engine == "both" else [args.engine]
    )
    for engine in engines:
        if engine == "tesseract" and shutil.which(settings.tesseract_command) is None:
            print("\n== tesseract: not installed here, skipped")
            continue
        engine_figures(engine, args, rng)
    return 0


if __name__ == "__main__":
    sys.exit(main())
