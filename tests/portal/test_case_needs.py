"""A case page shows only what its kind needs, and says plainly when nothing is needed from the
customer (issue 19, point 3): a "not mine" report offers no statement upload and does not read
"waiting for what you send"."""

from __future__ import annotations

import uuid

from tests.portal.conftest import CasePortal

JA = {"accept-language": "ja"}
UPLOAD_FORM = 'enctype="multipart/form-data"'


def not_mine_case(portal: CasePortal, account_id: str) -> str:
    portal.verification.publish(
        "order.reported_not_mine",
        {"order_id": uuid.uuid4().hex, "account_id": account_id, "actions": ["cancelled", "refunded"]},
        source="orders",
    )
    return next(case["id"] for case in portal.verification.cases(account_id) if case["kind"] == "not_me")


def test_a_not_mine_case_says_nothing_is_needed_and_offers_no_upload(case_portal: CasePortal) -> None:
    account_id = case_portal.customer("kenji@example.com")
    case_id = not_mine_case(case_portal, account_id)

    page = case_portal.browser.get(f"/cases/{case_id}", headers=JA).text
    listing = case_portal.browser.get("/cases", headers=JA).text
    english = case_portal.browser.get(f"/cases/{case_id}").text

    assert "お客様からのご提出待ち" not in page and "お客様からのご提出待ち" not in listing
    assert "ご用意いただくものはありません" in page and "担当者が対応中です" in listing
    assert UPLOAD_FORM not in page and "明細書" not in page
    assert 'action="/cases/' + case_id + '/callback"' in page, "a call can still be asked for"
    assert "Nothing is needed from you" in english and UPLOAD_FORM not in english
    assert case_portal.verification.case(account_id, case_id)["needs_from_customer"] is False


def test_a_payment_verification_case_still_asks_for_its_statement(case_portal: CasePortal) -> None:
    account_id = case_portal.customer("yuki@example.com")
    case_id = case_portal.verification.hold_payment(account_id)

    page = case_portal.browser.get(f"/cases/{case_id}", headers=JA).text

    assert "お客様からのご提出待ち" in page and UPLOAD_FORM in page
    assert "ご用意いただくものはありません" not in page
    assert case_portal.verification.case(account_id, case_id)["needs_from_customer"] is True


def test_a_lockout_case_points_to_the_self_service_unlock_not_an_upload(case_portal: CasePortal) -> None:
    account_id = case_portal.customer("aoi@example.com")
    case_id = uuid.uuid4().hex
    case_portal.verification.publish(
        "account.locked", {"case_id": case_id, "account_id": account_id, "reason": "Too many wrong sign-in codes."}
    )

    page = case_portal.browser.get(f"/cases/{case_id}", headers=JA).text

    assert UPLOAD_FORM not in page and 'href="/unlock"' in page
    assert "ロック解除をお待ちしています" in page and "Too many wrong sign-in codes" not in page
