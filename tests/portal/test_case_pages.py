"""Case pages against real auth and verification services: what a customer with a held payment
reads and sends, and what another customer can never reach."""

from __future__ import annotations

import re

import httpx
from fpdf import FPDF

from tests.portal.conftest import CasePortal
from tests.verification import documents_support as docs

REDACTED = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka", "Tel: 03-1234-5678")


def held_case(portal: CasePortal, email_address: str = "yuki@example.com") -> tuple[str, str]:
    """A signed-in customer whose payment verification holds; (account id, case id)."""
    account_id = portal.customer(email_address)
    return account_id, portal.verification.hold_payment(account_id)


def statement_with_the_number_on_page_2() -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.cell(text="Monthly statement, page 1")
    pdf.add_page()
    pdf.cell(text="Card 4111 1111 1111 1111")
    return bytes(pdf.output())


def upload(
    portal: CasePortal, case_id: str, filename: str, content: bytes, csrf_token: str | None = None
) -> httpx.Response:
    token = csrf_token or portal.csrf(f"/cases/{case_id}")
    return portal.browser.post(
        f"/cases/{case_id}/documents",
        data={"csrf_token": token},
        files={"file": (filename, content, "application/pdf")},
        follow_redirects=False,
    )


def test_the_case_page_shows_state_checklist_promised_time_in_tokyo_and_timeline(case_portal: CasePortal) -> None:
    _account_id, case_id = held_case(case_portal)
    listing = case_portal.browser.get("/cases")
    assert listing.status_code == 200 and f'href="/cases/{case_id}"' in listing.text

    page = case_portal.browser.get(f"/cases/{case_id}")

    assert page.status_code == 200
    assert "Payment verification" in page.text and "Waiting for you" in page.text
    assert re.search(r"We promise an answer by\s*<time[^>]*>[^<]*Japan Standard Time", page.text)
    assert re.search(r'class="item-missing"', page.text)
    assert "except the last 4" in page.text and 'enctype="multipart/form-data"' in page.text
    assert re.search(r'<h2 id="timeline-h">.*<li><p class="meta"><time', page.text, re.DOTALL)


def test_the_case_page_reads_japanese_with_the_time_in_japan(case_portal: CasePortal) -> None:
    _account_id, case_id = held_case(case_portal)

    page = case_portal.browser.get(f"/cases/{case_id}", headers={"accept-language": "ja"})

    assert 'lang="ja"' in page.text and "お支払いの確認" in page.text and "日本標準時" in page.text


def test_a_statement_with_a_full_card_number_is_refused_with_its_page_and_a_redacted_one_is_taken(
    case_portal: CasePortal,
) -> None:
    account_id, case_id = held_case(case_portal)

    refused = upload(case_portal, case_id, "statement.pdf", statement_with_the_number_on_page_2())

    assert refused.status_code == 422
    assert "A full card number is visible" in refused.text and "Where it shows: page 2." in refused.text
    assert "4111" not in refused.text
    assert case_portal.verification.case(account_id, case_id)["documents"] == []

    accepted = upload(case_portal, case_id, "redacted.pdf", docs.text_pdf(*REDACTED))

    assert accepted.status_code == 303
    page = case_portal.browser.get(accepted.headers["location"])
    assert "your document was received" in page.text and "redacted.pdf" in page.text
    assert len(case_portal.verification.case(account_id, case_id)["documents"]) == 1


def test_a_typed_supplement_and_a_callback_request_join_the_case(case_portal: CasePortal) -> None:
    account_id, case_id = held_case(case_portal)
    token = case_portal.csrf(f"/cases/{case_id}")

    typed = case_portal.browser.post(
        f"/cases/{case_id}/supplements",
        follow_redirects=False,
        data={"csrf_token": token, "item": "billing_address", "value": "1-2-3 Shibuya, Tokyo"},
    )
    called = case_portal.browser.post(
        f"/cases/{case_id}/callback",
        follow_redirects=False,
        data={"csrf_token": token, "phone": "090-1234-5678", "note": "Evenings"},
    )

    assert typed.status_code == 303 and called.status_code == 303
    case = case_portal.verification.case(account_id, case_id)
    address = next(item for item in case["checklist"] if item["code"] == "billing_address")
    assert address["status"] != "missing" and address["source"] == "supplement"
    page = case_portal.browser.get(f"/cases/{case_id}?notice=callback_requested")
    assert "We will call you" in page.text


def test_a_supplement_holding_a_card_number_is_refused_and_not_echoed(case_portal: CasePortal) -> None:
    account_id, case_id = held_case(case_portal)

    answer = case_portal.post(
        f"/cases/{case_id}/supplements",
        {"item": "billing_name", "value": "4111 1111 1111 1111"},
        form_page=f"/cases/{case_id}",
    )

    assert answer.status_code == 422 and "holds a full card number" in answer.text
    assert "4111" not in answer.text
    name = next(
        item
        for item in case_portal.verification.case(account_id, case_id)["checklist"]
        if item["code"] == "billing_name"
    )
    assert name["status"] == "missing"


def test_forms_without_the_csrf_token_change_nothing(case_portal: CasePortal) -> None:
    account_id, case_id = held_case(case_portal)

    forged_upload = upload(case_portal, case_id, "redacted.pdf", docs.text_pdf(*REDACTED), csrf_token="0" * 64)
    forged_supplement = case_portal.browser.post(
        f"/cases/{case_id}/supplements",
        follow_redirects=False,
        data={"csrf_token": "0" * 64, "item": "billing_address", "value": "1-2-3 Shibuya"},
    )

    assert forged_upload.status_code == 403 and forged_supplement.status_code == 403
    case = case_portal.verification.case(account_id, case_id)
    assert case["documents"] == []
    assert all(item["source"] is None for item in case["checklist"])


def test_another_customers_case_is_not_found_and_takes_nothing(case_portal: CasePortal) -> None:
    owner_id, case_id = held_case(case_portal, "yuki@example.com")
    case_portal.browser.cookies.clear()
    case_portal.customer("mallory@example.com")

    assert case_portal.browser.get(f"/cases/{case_id}").status_code == 404
    assert (
        upload(case_portal, case_id, "redacted.pdf", docs.text_pdf(*REDACTED), case_portal.csrf("/account")).status_code
        == 404
    )
    answer = case_portal.post(f"/cases/{case_id}/callback", {"phone": "090-1234-5678"}, form_page="/account")
    assert answer.status_code == 404
    assert f'href="/cases/{case_id}"' not in case_portal.browser.get("/cases").text
    assert case_portal.verification.case(owner_id, case_id)["documents"] == []


def test_case_pages_need_a_signed_in_customer(case_portal: CasePortal) -> None:
    asked = case_portal.browser.get("/cases/abc", follow_redirects=False)

    assert asked.status_code == 303 and asked.headers["location"] == "/signin?next=/cases/abc"
