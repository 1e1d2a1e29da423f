"""uploadDocument: the scan before anything is kept, bad files, encryption at rest, who sees documents."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import pytest
from PIL import Image

from tests.verification import documents_support as docs
from tests.verification.conftest import VerificationHarness

ALICE = "a" * 32
SPECIALIST, SUPPORT = "p" * 32, "s" * 32
REDACTED = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka", "Tel: 03-1234-5678")


def stored_files(harness: VerificationHarness) -> list[bytes]:
    folder = harness.data_dir / "documents"
    return [path.read_bytes() for path in folder.iterdir()] if folder.exists() else []


def test_a_redacted_statement_is_kept_encrypted_and_meets_what_it_shows(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    pdf = docs.text_pdf(*REDACTED)
    response = verification.upload(ALICE, case_id, pdf)
    assert response.status_code == 201, response.text
    assert response.json()["pages"] == 1 and response.json()["content_type"] == "application/pdf"

    statuses = {item["code"]: item["status"] for item in verification.case(ALICE, case_id)["checklist"]}
    assert statuses == {
        "statement": "received",
        "billing_name": "received",
        "billing_address": "missing",
        "cardholder_phone": "received",
    }
    notice = verification.notices(ALICE)[-1]
    assert "Still needed: Billing address" in notice["body_en"] and "4242" in notice["body_en"]
    assert "まだ必要なもの: 請求先のご住所" in notice["body_ja"]

    [stored] = stored_files(verification)
    assert b"Yuki Tanaka" not in stored and b"%PDF" not in stored  # encrypted at rest
    document_id = response.json()["id"]
    download = verification.client.get(
        f"/api/verification/staff/documents/{document_id}", headers=verification.as_user(SPECIALIST, "specialist")
    )
    # What is kept is the page as rendered, not the uploaded bytes: a PDF of pictures, no text layer.
    assert download.status_code == 200 and download.content != pdf
    assert download.headers["content-type"] == "application/pdf" and b"Yuki Tanaka" not in download.content


def test_support_staff_never_see_documents_but_see_the_status(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    document_id = verification.upload(ALICE, case_id, docs.text_pdf(*REDACTED)).json()["id"]
    support = verification.as_user(SUPPORT, "support")
    assert (
        verification.client.get(f"/api/verification/staff/documents/{document_id}", headers=support).status_code == 403
    )
    assert verification.client.get(f"/api/verification/staff/cases/{case_id}", headers=support).status_code == 403
    status = verification.client.get(f"/api/verification/staff/cases/{case_id}/status", headers=support)
    assert status.status_code == 200 and status.json()["documents"] == []
    assert status.json()["checklist"][0]["status"] == "received"
    customer = verification.client.get(
        f"/api/verification/staff/documents/{document_id}", headers=verification.as_user(ALICE)
    )
    assert customer.status_code == 403


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("text.pdf", docs.text_pdf("Statement", "Card 4111 1111 1111 1111"), "application/pdf"),
        ("fullwidth.pdf", docs.text_pdf("Statement", "Card 5555-5555-5555-4444 exp 03/27"), "application/pdf"),
        ("scan.pdf", docs.image_pdf("ご利用明細", "カード番号 ２２２１ ００００ ００００ ０００９"), "application/pdf"),
        ("photo.png", docs.png("ご利用明細書", "カード 4111-1111-1111-1111"), "image/png"),
        ("photo.jpg", docs.jpeg("Statement", "Card ５５５５ ５５５５ ５５５５ ４４４４"), "image/jpeg"),
        ("nineteen.png", docs.png("Statement", "4000 0000 0000 0000 006"), "image/png"),
    ],
)
def test_a_full_card_number_is_refused_and_nothing_is_kept(
    verification: VerificationHarness, name: str, content: bytes, content_type: str
) -> None:
    case_id = verification.hold_payment(ALICE)
    before = verification.case(ALICE, case_id)
    response = verification.upload(ALICE, case_id, content, name, content_type)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "card_number_visible" and body["pages"] == [1]
    assert "last 4" in body["how_to_mask_en"] and "下4桁" in body["how_to_mask_ja"]
    assert stored_files(verification) == []
    after = verification.case(ALICE, case_id)
    assert after["checklist"] == before["checklist"] and after["documents"] == []
    assert after["timeline"] == before["timeline"]


def test_phone_and_order_numbers_and_luhn_invalid_runs_pass(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    content = docs.png("Order 112-3456789-1234567", "Tel 03-1234-5678", "Ref 4111 1111 1111 1112")
    response = verification.upload(ALICE, case_id, content, "ok.png", "image/png")
    assert response.status_code == 201, response.text


def test_the_card_number_is_on_the_page_it_is_on(verification: VerificationHarness) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in ("Page one: nothing to see here at all", "Page two: 3530 1113 3330 0000"):
        pdf.add_page()
        pdf.cell(text=text)
    case_id = verification.hold_payment(ALICE)
    response = verification.upload(ALICE, case_id, bytes(pdf.output()))
    assert response.status_code == 422 and response.json()["pages"] == [2]


def test_images_are_masked_instead_when_so_configured(masking_verification: VerificationHarness) -> None:
    harness = masking_verification
    case_id = harness.hold_payment(ALICE)
    response = harness.upload(ALICE, case_id, docs.png("Statement", "Card 4111 1111 1111 1111"), "s.png", "image/png")
    assert response.status_code == 201, response.text
    assert response.json()["masked"] is True
    download = harness.client.get(
        f"/api/verification/staff/documents/{response.json()['id']}", headers=harness.as_user(SPECIALIST, "specialist")
    )
    image = Image.open(io.BytesIO(download.content))
    assert image.format == "PNG"
    from services.verification.config import VerificationSettings
    from services.verification.scanning.pipeline import scan_upload

    assert scan_upload(download.content, VerificationSettings()).masked is False  # nothing left to find
    assert any(entry["kind"] == "document_masked" for entry in harness.case(ALICE, case_id)["timeline"])
    # PDFs are refused even so: painting over a picture does not remove a text layer.
    pdf = harness.upload(ALICE, case_id, docs.text_pdf("Card 4111 1111 1111 1111"))
    assert pdf.status_code == 422


def _png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header announcing a huge image, with a tiny compressed body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 16, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def _truncated_jpeg() -> bytes:
    return docs.jpeg("Statement")[:300]


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"", 422, "empty_file"),
        (b"GIF89a" + b"\x00" * 100, 415, "unsupported_file"),
        (b"PK\x03\x04 a zip pretending to be a statement", 415, "unsupported_file"),
        (b"%PDF-1.7\n garbage that is not a pdf", 422, "file_corrupt"),
        (docs.encrypted_pdf("Statement"), 422, "file_encrypted"),
        (_png_bomb(30_000, 30_000), 422, "decompression_bomb"),
        (_truncated_jpeg(), 422, "file_corrupt"),
        (docs.text_pdf("Statement page", pages=11), 422, "too_many_pages"),
    ],
)
def test_bad_files_get_a_clear_problem_and_nothing_is_kept(
    verification: VerificationHarness, content: bytes, status: int, code: str
) -> None:
    case_id = verification.hold_payment(ALICE)
    response = verification.upload(ALICE, case_id, content, "upload.pdf", "application/pdf")
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert stored_files(verification) == []
    assert verification.case(ALICE, case_id)["documents"] == []


def test_a_file_over_ten_megabytes_is_413(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    response = verification.upload(ALICE, case_id, b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024 + 1))
    assert (response.status_code, response.json()["code"]) == (413, "file_too_large")
    assert stored_files(verification) == []


def test_no_file_field_or_not_multipart(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    url = f"/api/verification/cases/{case_id}/documents"
    wrong_field = verification.client.post(
        url, headers=verification.as_user(ALICE), files={"other": ("x.pdf", docs.text_pdf("x"), "application/pdf")}
    )
    assert (wrong_field.status_code, wrong_field.json()["code"]) == (422, "file_missing")
    as_json = verification.client.post(url, headers=verification.as_user(ALICE), json={"file": "x"})
    assert (as_json.status_code, as_json.json()["code"]) == (415, "multipart_required")


def test_another_customers_case_takes_no_upload(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    response = verification.upload("b" * 32, case_id, docs.text_pdf(*REDACTED))
    assert response.status_code == 404
    assert stored_files(verification) == []


def test_a_card_number_in_the_file_name_is_never_kept(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    response = verification.upload(ALICE, case_id, docs.text_pdf(*REDACTED), "card 4111-1111-1111-1111.pdf")
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "card xxxx-xxxx-xxxx-xxxx.pdf"
    assert "4111" not in str(verification.case(ALICE, case_id))


@pytest.mark.parametrize("make", [docs.png, docs.jpeg])
def test_a_redacted_photo_meets_the_statement_item_by_its_last_four(
    verification: VerificationHarness, make: Callable[..., bytes]
) -> None:
    case_id = verification.hold_payment(ALICE)
    response = verification.upload(ALICE, case_id, make(*REDACTED), "photo", "image/png")
    assert response.status_code == 201, response.text
    statuses = {item["code"]: item["status"] for item in verification.case(ALICE, case_id)["checklist"]}
    assert statuses["statement"] == "received" and statuses["billing_address"] == "missing"
