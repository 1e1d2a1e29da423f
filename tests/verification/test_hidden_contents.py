"""What a file carries that nobody sees is not kept: the kept copy is the rendering of what shows.

Each upload below shows a properly redacted statement and hides a full card number somewhere a
person never sees it: a PDF's annotation contents, its metadata, an embedded file; a PNG text
chunk, JPEG EXIF, pixels under full transparency. The upload is accepted (the page shown is
fine), and the file kept, as a reviewer downloads it, holds the number nowhere.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from tests.verification import documents_support as docs
from tests.verification.conftest import VerificationHarness

ALICE, SPECIALIST = "a" * 32, "p" * 32
HIDDEN = "4111 1111 1111 1111"
SHOWN = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka")


def _statement_pdf() -> FPDF:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    for line in SHOWN:
        pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    return pdf


def pdf_with_annotation() -> bytes:
    pdf = _statement_pdf()
    pdf.text_annotation(150, 20, f"card {HIDDEN}")  # a closed sticky note: its text shows only on a click
    return bytes(pdf.output())


def pdf_with_metadata() -> bytes:
    pdf = _statement_pdf()
    pdf.set_subject(f"card {HIDDEN}")
    pdf.set_keywords(f"card {HIDDEN}")
    pdf.set_author(HIDDEN)
    return bytes(pdf.output())


def pdf_with_embedded_file() -> bytes:
    pdf = _statement_pdf()
    pdf.embed_file(bytes=f"card {HIDDEN}".encode(), basename="card.txt", compress=False)
    return bytes(pdf.output())


def png_with_text_chunk() -> bytes:
    info = PngInfo()
    info.add_text("Comment", f"card {HIDDEN}")
    info.add_itxt("Description", f"カード {HIDDEN}")
    buffer = io.BytesIO()
    docs.drawn(*SHOWN).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = f"card {HIDDEN}"  # ImageDescription
    buffer = io.BytesIO()
    docs.drawn(*SHOWN).save(buffer, format="JPEG", quality=92, exif=exif.tobytes())
    return buffer.getvalue()


def png_with_transparent_number() -> bytes:
    """The number drawn in black at alpha 0: invisible on screen, there in the pixels' colour."""
    image = docs.drawn(*SHOWN).convert("RGBA")
    draw = ImageDraw.Draw(image)
    draw.text((50, image.height - 50), HIDDEN, fill=(0, 0, 0, 0), font=ImageFont.truetype(docs.cjk_font_file(), 36))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _kept(harness: VerificationHarness, content: bytes, name: str, content_type: str) -> tuple[bytes, str]:
    case_id = harness.hold_payment(ALICE)
    response = harness.upload(ALICE, case_id, content, name, content_type)
    assert response.status_code == 201, response.text
    statuses = {item["code"]: item["status"] for item in harness.case(ALICE, case_id)["checklist"]}
    assert statuses["statement"] == "received"  # the page a person sees is a proper statement
    download = harness.client.get(
        f"/api/verification/staff/documents/{response.json()['id']}", headers=harness.as_user(SPECIALIST, "specialist")
    )
    assert download.status_code == 200
    return download.content, download.headers["content-type"]


def _no_number_in_bytes(kept: bytes) -> None:
    for form in (HIDDEN, HIDDEN.replace(" ", "")):
        assert form.encode() not in kept and form.encode("utf-16-be") not in kept


@pytest.mark.parametrize("make", [pdf_with_annotation, pdf_with_metadata, pdf_with_embedded_file])
def test_a_number_hidden_in_a_pdf_is_not_kept(verification: VerificationHarness, make: Callable[[], bytes]) -> None:
    upload = make()
    kept, content_type = _kept(verification, upload, "statement.pdf", "application/pdf")
    assert content_type == "application/pdf" and kept != upload
    _no_number_in_bytes(kept)
    document = pdfium.PdfDocument(kept)
    try:
        assert len(document) == 1
        assert document.count_attachments() == 0
        assert not any(HIDDEN in str(value) for value in document.get_metadata_dict().values())
        page = document[0]
        assert pdfium_raw.FPDFPage_GetAnnotCount(page.raw) == 0
        assert page.get_textpage().get_text_bounded().strip() == ""  # pictures only: no text layer kept
        page.close()
    finally:
        document.close()


@pytest.mark.parametrize(
    ("make", "name", "content_type"),
    [
        (png_with_text_chunk, "photo.png", "image/png"),
        (jpeg_with_exif, "photo.jpg", "image/jpeg"),
        (png_with_transparent_number, "photo.png", "image/png"),
    ],
)
def test_a_number_hidden_in_an_image_is_not_kept(
    verification: VerificationHarness, make: Callable[[], bytes], name: str, content_type: str
) -> None:
    upload = make()
    kept, kept_type = _kept(verification, upload, name, content_type)
    assert kept_type == content_type and kept != upload
    _no_number_in_bytes(kept)
    image = Image.open(io.BytesIO(kept))
    assert image.mode == "RGB"  # flattened: no alpha channel to hide pixels under
    assert not getattr(image, "text", {}) and len(image.getexif()) == 0


def test_a_number_shown_by_a_visible_annotation_is_refused(verification: VerificationHarness) -> None:
    """A page with a text layer and a visible note: the note is not in the text layer, but it is
    in the rendering, which OCR reads on every page."""
    pdf = _statement_pdf()
    pdf.set_font("helvetica", size=16)
    pdf.free_text_annotation(f"Card {HIDDEN}", x=20, y=80, w=150, h=20)
    case_id = verification.hold_payment(ALICE)
    response = verification.upload(ALICE, case_id, bytes(pdf.output()))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "card_number_visible" and response.json()["pages"] == [1]
    assert verification.case(ALICE, case_id)["documents"] == []
