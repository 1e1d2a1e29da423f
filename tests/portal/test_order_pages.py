"""Order pages against real auth and orders services: the list, "not me" with the refund split by
tender, the printable confirmation, a refusal in orders' own words, the 1-Click switch, and
another customer's order answering 404."""

from __future__ import annotations

import re

from tests.orders.harness import card_tender, line
from tests.portal.conftest import CasePortal


def ebook_paid_with_points_and_gift_balance(portal: CasePortal, email_address: str = "hana@example.com") -> str:
    account_id = portal.customer(email_address)
    portal.orders.grant(account_id, "points", 300)
    portal.orders.grant(account_id, "gift_balance", 2_000)
    order = portal.place(
        account_id,
        [line("digital", 1_200, "E-book")],
        [{"kind": "points", "amount": 300}, {"kind": "gift_balance", "amount": 900}],
    )
    return str(order["id"])


def test_the_order_list_and_page_show_amounts_in_yen_and_how_it_was_paid(case_portal: CasePortal) -> None:
    order_id = ebook_paid_with_points_and_gift_balance(case_portal)

    listing = case_portal.browser.get("/orders")
    page = case_portal.browser.get(f"/orders/{order_id}")

    assert f'href="/orders/{order_id}"' in listing.text and "E-book" in listing.text and "¥1,200" in listing.text
    assert (
        "Points" in page.text and "300 points" in page.text and "Gift card balance" in page.text and "¥900" in page.text
    )
    assert "Japan Standard Time" in page.text


def test_not_me_cancels_and_shows_the_refund_to_points_and_gift_balance_with_a_printable_confirmation(
    case_portal: CasePortal,
) -> None:
    order_id = ebook_paid_with_points_and_gift_balance(case_portal)

    reported = case_portal.post(f"/orders/{order_id}/not-me", {}, form_page=f"/orders/{order_id}")

    assert reported.status_code == 303
    page = case_portal.browser.get(reported.headers["location"])
    assert "Thank you for telling us" in page.text and "Cancelled" in page.text
    refunds = page.text.split('id="refunds-h"')[1]
    assert re.search(r"Points: 300 points · back in your account", refunds)
    assert re.search(r"Gift card balance: ¥900 · back in your account", refunds)
    pdf = case_portal.browser.get(f"/orders/{order_id}/confirmation.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_a_refusal_is_shown_in_orders_own_words_in_japanese(case_portal: CasePortal) -> None:
    account_id = case_portal.customer("hana@example.com")
    order = case_portal.place(account_id, [line("digital", 800, "E-book")], [card_tender(800)])
    used = case_portal.orders.client.post(
        f"/api/orders/staff/orders/{order['id']}/lines/{order['lines'][0]['id']}/use",
        headers=case_portal.verification.as_user("s" * 32, "support"),
    )
    assert used.status_code == 200

    refused = case_portal.post(
        f"/orders/{order['id']}/cancel", {}, form_page=f"/orders/{order['id']}", headers={"accept-language": "ja"}
    )

    assert refused.status_code == 409 and 'lang="ja"' in refused.text
    assert re.search(r'<div class="error" role="alert"><p>[^<]*[ぁ-んァ-ン一-龥][^<]*</p>', refused.text)
    assert (
        case_portal.orders.client.get(
            f"/api/orders/orders/{order['id']}", headers=case_portal.verification.as_user(account_id)
        ).json()["state"]
        != "cancelled"
    )


def test_another_customers_order_is_not_found_and_cannot_be_cancelled(case_portal: CasePortal) -> None:
    order_id = ebook_paid_with_points_and_gift_balance(case_portal, "hana@example.com")
    case_portal.browser.cookies.clear()
    case_portal.customer("mallory@example.com")

    assert case_portal.browser.get(f"/orders/{order_id}").status_code == 404
    assert case_portal.browser.get(f"/orders/{order_id}/confirmation.pdf").status_code == 404
    assert case_portal.post(f"/orders/{order_id}/not-me", {}, form_page="/account").status_code == 404
    assert case_portal.post(f"/orders/{order_id}/cancel", {}, form_page="/account").status_code == 404
    assert order_id not in case_portal.browser.get("/orders").text


def test_cancel_without_the_csrf_token_changes_nothing(case_portal: CasePortal) -> None:
    order_id = ebook_paid_with_points_and_gift_balance(case_portal)

    forged = case_portal.browser.post(
        f"/orders/{order_id}/cancel", data={"csrf_token": "0" * 64}, follow_redirects=False
    )

    assert forged.status_code == 403
    assert "Cancelled" not in case_portal.browser.get(f"/orders/{order_id}").text.split("<caption>")[0]


def test_the_one_click_switch_turns_one_click_off(case_portal: CasePortal) -> None:
    account_id = case_portal.customer("hana@example.com")

    answer = case_portal.post("/security/one-click", {"enabled": "off"}, form_page="/security")

    assert answer.status_code == 303 and answer.headers["location"] == "/security?notice=one_click_off"
    assert "1-Click ordering is off" in case_portal.browser.get(answer.headers["location"]).text
    placed = case_portal.place(account_id, [line("physical", 500, "Tea")], [card_tender(500)])
    assert placed["state"] == "awaiting_confirmation"
