"""Bombs: small uploads that are huge once opened get 422 ``decompression_bomb``, the service stays
up, and the next ordinary statement is scanned as usual. Behind the byte checks, the scan's child
process with its memory and CPU limits refuses what they miss, and excess scans wait, then 503.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mamori_common.problems import Problem
from services.verification.scanning.bombs import BombLimits, refuse_bombs
from services.verification.scanning.sandbox import SandboxLimits, run_sandboxed
from tests.verification import bomb_files as bombs
from tests.verification import documents_support as docs
from tests.verification import sandbox_support
from tests.verification.conftest import VerificationHarness, make_harness, tesseract_with_japanese

ALICE = "a" * 32
REDACTED = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka", "Tel: 03-1234-5678")
LIMITS = BombLimits(
    max_inflated_bytes=256 * bombs.MEGABYTE, max_image_pixels=40_000_000, max_render_pixels=20_000_000, render_scale=3.0
)

BOMBS: dict[str, Callable[[], bytes]] = {
    "PDF stream inflating to 300 MB": bombs.flate_bomb_pdf,
    "PDF stream deflated twice": bombs.double_flate_bomb_pdf,
    "PDF stream whose /Filter is indirect": bombs.unlabelled_flate_bomb_pdf,
    "PDF page 200 inches square": bombs.huge_page_pdf,
    "PDF image of 20,000 x 20,000 pixels": bombs.huge_image_pdf,
    "PNG declaring 7,000 x 7,000 pixels": lambda: bombs.png_declaring(7_000, 7_000),
    "JPEG declaring 60,000 x 60,000 pixels": lambda: bombs.jpeg_declaring(60_000, 60_000),
}


def stored_files(harness: VerificationHarness) -> list[Path]:
    folder = harness.data_dir / "documents"
    return list(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("make", BOMBS.values(), ids=BOMBS.keys())
def test_a_bomb_is_refused_and_the_next_statement_is_scanned(
    verification: VerificationHarness, make: Callable[[], bytes]
) -> None:
    content = make()
    assert len(content) < 1024 * 1024  # small as sent
    case_id = verification.hold_payment(ALICE)
    response = verification.upload(ALICE, case_id, content, "statement.pdf", "application/pdf")
    assert response.status_code == 422, response.text[:300]
    problem = response.json()
    assert problem["code"] == "decompression_bomb" and problem["title"] == "The file is too large once opened"
    assert "開くと大きすぎる" in problem["detail_ja"] and "photo or PDF" in problem["detail_en"]
    assert stored_files(verification) == [] and verification.case(ALICE, case_id)["documents"] == []

    ordinary = verification.upload(ALICE, case_id, docs.text_pdf(*REDACTED))
    assert ordinary.status_code == 201, ordinary.text


def test_ordinary_statements_pass_the_byte_checks() -> None:
    """The caps refuse bombs, not statements: text, scanned and photographed ones all pass."""
    for content in (
        docs.text_pdf(*REDACTED, pages=10),
        docs.image_pdf("ご利用明細", "カード番号 **** **** **** 9011"),
        docs.png("Statement"),
        docs.jpeg("Statement"),
        bombs.huge_page_pdf(inches=16),  # A3 and a little more
        bombs.flate_bomb_pdf(megabytes=20),  # a big page of content, but a page's worth
    ):
        refuse_bombs(content, LIMITS)


@pytest.mark.skipif(
    not tesseract_with_japanese(),
    reason="the follow-up scan must fit the 300 MB child: Tesseract does (its own process), RapidOCR needs 1.6 GB",
)
def test_a_bomb_the_byte_checks_miss_kills_only_the_scan_child(data_dir: Path) -> None:
    """With the inflation cap lifted, pdfium inflates the 300 MB stream itself: the child's address
    space limit stops it, the upload is refused as a bomb, and the service goes on."""
    harness_iter = make_harness(
        data_dir,
        max_inflated_bytes=10**12,
        scan_memory_bytes=300 * bombs.MEGABYTE,
        scan_cpu_seconds=20,
        ocr_engine="tesseract",
    )
    harness = next(harness_iter)
    try:
        case_id = harness.hold_payment(ALICE)
        response = harness.upload(ALICE, case_id, bombs.flate_bomb_pdf(600))
        assert (response.status_code, response.json()["code"]) == (422, "decompression_bomb"), response.text[:300]
        assert stored_files(harness) == []
        assert harness.upload(ALICE, case_id, docs.text_pdf(*REDACTED)).status_code == 201
    finally:
        next(harness_iter, None)


def _limits(**changes: float) -> SandboxLimits:
    values: dict[str, float] = {
        "memory_bytes": 512 * bombs.MEGABYTE,
        "cpu_seconds": 1,
        "wall_seconds": 30.0,
        "max_concurrent": 1,
        "queue_wait_seconds": 0.2,
    }
    values.update(changes)
    return SandboxLimits(**values)  # type: ignore[arg-type]  # the numbers are the fields' types


def test_the_child_is_stopped_by_its_cpu_limit() -> None:
    started = time.monotonic()
    with pytest.raises(Problem) as refused:
        run_sandboxed(sandbox_support.spin, limits=_limits(cpu_seconds=1, max_concurrent=3))
    assert refused.value.status == 422 and refused.value.code == "decompression_bomb"
    assert time.monotonic() - started < 20  # the kernel stopped it, not the 30 s wall clock


def test_the_child_is_stopped_by_its_memory_limit() -> None:
    with pytest.raises(Problem) as refused:
        run_sandboxed(
            sandbox_support.allocate, 2048, limits=_limits(memory_bytes=256 * bombs.MEGABYTE, max_concurrent=4)
        )
    assert refused.value.code == "decompression_bomb"
    assert run_sandboxed(sandbox_support.allocate, 16, limits=_limits(max_concurrent=4)) == 16


def test_the_childs_problem_comes_back_as_it_was() -> None:
    with pytest.raises(Problem) as refused:
        run_sandboxed(sandbox_support.refuse, limits=_limits(max_concurrent=5))
    assert (refused.value.status, refused.value.code, refused.value.extra) == (422, "file_corrupt", {"page": 2})


def test_a_scan_beyond_the_concurrent_limit_waits_then_gets_503() -> None:
    limits = _limits(max_concurrent=6, wall_seconds=30.0, cpu_seconds=10, queue_wait_seconds=0.3)
    results: list[object] = []
    busy = [threading.Thread(target=lambda: results.append(run_sandboxed(sandbox_support.nap, 2.0, limits=limits)))
            for _ in range(6)]  # fmt: skip
    for thread in busy:
        thread.start()
    time.sleep(0.5)
    with pytest.raises(Problem) as refused:
        run_sandboxed(sandbox_support.nap, 0.0, limits=limits)
    assert refused.value.status == 503 and refused.value.code == "scanner_busy"
    assert refused.value.headers["Retry-After"].isdigit()
    for thread in busy:
        thread.join()
    assert results == [2.0] * 6
    assert run_sandboxed(sandbox_support.nap, 0.0, limits=limits) == 0.0  # slots freed
