"""Bombs: what each costs the verification process and the scan's child, and how long its refusal takes.

Run: ``.venv/bin/python tests/bench/bombs.py``

Each bomb of tests/verification/bomb_files.py (and, for comparison, an ordinary text statement
and a photographed one) goes through what ``uploadDocument`` runs: the byte caps and the scan, in
the limited child process. Printed per file: its size, the answer, the wall time, the child's
peak RSS (its own report; "killed" when its limits stopped it before it could report), then the
verification (parent) process's peak RSS over the whole run. A second pass lifts the byte caps,
so pdfium itself meets the 600 MB stream: the child's address-space limit is what stops it.
On issue 17's main, the 1 GB stream alone took the service process to 2 GB RSS.

Figures, not assertions. Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mamori_common.problems import Problem
from services.verification.config import VerificationSettings
from services.verification.documents.flows import inspect_and_scan, scan_limits
from services.verification.scanning import sandbox


def files() -> dict[str, Callable[[], bytes]]:
    """Imported here, not at the top: every scan child imports this script again as its main
    module, and should not pay for fpdf and the fonts each time."""
    from tests.verification import bomb_files as bombs
    from tests.verification import documents_support as docs

    return {
        "text statement (ordinary)": lambda: docs.text_pdf("Statement", "Card **** **** **** 4242", pages=3),
        "photo statement (ordinary)": lambda: docs.png("ご利用明細書", "カード **** **** **** 4242"),
        "PDF stream -> 1 GB": lambda: bombs.flate_bomb_pdf(1024),
        "PDF stream -> 300 MB, deflated twice": bombs.double_flate_bomb_pdf,
        "PDF stream -> 1 GB, /Filter indirect": lambda: bombs.unlabelled_flate_bomb_pdf(1024),
        "PDF page 200 x 200 inches": bombs.huge_page_pdf,
        "PDF image 20,000 x 20,000 px": bombs.huge_image_pdf,
        "PNG declaring 30,000 x 30,000 px": lambda: bombs.png_declaring(30_000, 30_000),
        "JPEG declaring 60,000 x 60,000 px": lambda: bombs.jpeg_declaring(60_000, 60_000),
        "PDF stream -> 1 GB (caps lifted)": lambda: bombs.flate_bomb_pdf(1024),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(name: str, data: bytes, settings: VerificationSettings) -> None:
    started = time.perf_counter()
    try:
        sandbox.run_sandboxed(inspect_and_scan, data, settings, limits=scan_limits(settings))
        answer = "accepted"
    except Problem as problem:
        answer = f"{problem.status} {problem.code}"
    elapsed = (time.perf_counter() - started) * 1000
    report = sandbox.last_report
    child = f"{report.peak_rss_kb / 1024:7.0f} MB" if report else "   killed"
    print(f"{name:40} {len(data) / 1024:9.1f} KB  {answer:26} {elapsed:8.0f} ms  child peak {child}")


def main() -> None:
    settings = VerificationSettings()
    print(f"limits: child address space {settings.scan_memory_bytes // 2**20} MB, {settings.scan_cpu_seconds} s CPU;"
          f" streams inflate to at most {settings.max_inflated_bytes // 2**20} MB")  # fmt: skip
    print(f"verification process peak RSS before: {peak_rss_mb():.0f} MB")
    lifted = VerificationSettings(max_inflated_bytes=10**12)
    for name, make in files().items():
        if "caps lifted" in name:
            print("-- byte caps lifted (max_inflated_bytes unlimited): the child's limits alone")
        run(name, make(), lifted if "caps lifted" in name else settings)
    print(f"verification process peak RSS after all: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
