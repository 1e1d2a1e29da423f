"""The staff console against real auth and verification: a specialist signs in on the customers'
page, reviews a case with its documents and decides it; support reads the status only."""

from __future__ import annotations

import re

import pyotp

from services.auth.accounts.models import Role
from tests.portal.conftest import CasePortal
from tests.support.auth_changes import make_staff_with_totp
from tests.verification import documents_support as docs

REDACTED = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka", "Tel: 03-1234-5678")


def case_with_a_statement(portal: CasePortal) -> tuple[str, str]:
    account_id = portal.customer("yuki@example.com")
    case_id = portal.verification.hold_payment(account_id)
    sent = portal.verification.upload(account_id, case_id, docs.text_pdf(*REDACTED), "redacted.pdf")
    assert sent.status_code == 201, sent.text
    typed = portal.verification.client.post(
        f"/api/verification/cases/{case_id}/supplements",
        json={"item": "billing_address", "value": "1-2-3 Shibuya, Tokyo"},
        headers=portal.verification.as_user(account_id),
    )
    assert typed.status_code == 200, typed.text
    assert portal.verification.case(account_id, case_id)["state"] == "in_review"
    portal.browser.cookies.clear()
    return account_id, case_id


def staff_signs_in(portal: CasePortal, role: Role, email_address: str) -> None:
    """Password, then the authenticator app's code: staff step up on every sign-in."""
    secret = make_staff_with_totp(portal.auth, role, email_address)
    answer = portal.sign_in(email_address)
    assert answer.status_code == 303 and answer.headers["location"] == "/signin/check", answer.text
    code = pyotp.TOTP(secret).at(portal.auth.clock.now())
    checked = portal.post("/signin/check", {"method": "totp", "code": code}, form_page="/signin/check")
    assert checked.status_code == 303, checked.text
    assert portal.browser.get("/account", follow_redirects=False).headers["location"] == "/staff"


def test_a_specialist_reviews_the_documents_and_approves_with_a_catalogue_reason(case_portal: CasePortal) -> None:
    account_id, case_id = case_with_a_statement(case_portal)
    staff_signs_in(case_portal, Role.specialist, "specialist@example.com")

    queue = case_portal.browser.get("/staff")
    assert f'href="/staff/cases/{case_id}"' in queue.text
    review = case_portal.browser.get(f"/staff/cases/{case_id}")
    document = re.search(r'href="(/staff/documents/[^"]+)">redacted.pdf', review.text)
    assert document and 'value="verified"' in review.text
    download = case_portal.browser.get(document.group(1))
    assert download.status_code == 200 and download.content.startswith(b"%PDF")
    assert "attachment" in download.headers["content-disposition"]

    decided = case_portal.post(
        f"/staff/cases/{case_id}/decision",
        {"decision": "approve", "reason_code": "verified"},
        form_page=f"/staff/cases/{case_id}",
    )

    assert decided.status_code == 303, decided.text
    assert case_portal.verification.case(account_id, case_id)["state"] == "approved"


def test_a_reason_that_does_not_fit_the_decision_is_refused_and_decides_nothing(case_portal: CasePortal) -> None:
    account_id, case_id = case_with_a_statement(case_portal)
    staff_signs_in(case_portal, Role.specialist, "specialist@example.com")

    refused = case_portal.post(
        f"/staff/cases/{case_id}/decision",
        {"decision": "approve", "reason_code": "statement_unreadable"},
        form_page=f"/staff/cases/{case_id}",
    )

    assert refused.status_code == 422 and "does not go with this decision" in refused.text
    assert case_portal.verification.case(account_id, case_id)["state"] != "approved"


def test_support_sees_state_checklist_and_timeline_but_never_documents(case_portal: CasePortal) -> None:
    account_id, case_id = case_with_a_statement(case_portal)
    staff_signs_in(case_portal, Role.support, "support@example.com")

    page = case_portal.browser.get(f"/staff/cases/{case_id}")

    assert page.status_code == 200 and "Checklist" in page.text and 'id="timeline-h"' in page.text
    assert "/staff/documents/" not in page.text and 'id="docs-h"' not in page.text
    document_id = case_portal.verification.case(account_id, case_id)["documents"][0]["id"]
    assert case_portal.browser.get(f"/staff/documents/{document_id}").status_code == 404
    refused = case_portal.post(
        f"/staff/cases/{case_id}/decision",
        {"decision": "approve", "reason_code": "verified"},
        form_page=f"/staff/cases/{case_id}",
    )
    assert refused.status_code == 404
    assert case_portal.verification.case(account_id, case_id)["state"] != "approved"


def test_a_customer_cannot_reach_the_console(case_portal: CasePortal) -> None:
    _account_id, case_id = case_with_a_statement(case_portal)
    case_portal.customer("mallory@example.com")

    assert case_portal.browser.get("/staff").status_code == 404
    assert case_portal.browser.get(f"/staff/cases/{case_id}").status_code == 404
