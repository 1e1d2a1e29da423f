"""Stories S1 and S5 walked by a customer in headless Chromium, against the real suite.

``mamori run`` starts every process (gateway, auth, verification, orders, portal) as a user
starts them; the browser talks only to the gateway, and the customer reads the codes from the
.eml files the suite mails. Each journey runs in Japanese (at 360 px wide, a small phone) and in
English (a desktop window), checks every page with axe-core and saves its last page under
``tests/artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.portal.browser import (
    LOCK_AFTER,
    NEW_PASSWORD,
    PASSWORD,
    Mailbox,
    api_sign_in,
    assert_accessible,
    device,
    grant_in_orders,
    make_staff,
    register,
    reload_until,
    save_screenshot,
    sign_in,
    sign_in_with_mailed_code,
    sign_in_with_totp,
    submit,
)
from tests.support.processes import MamoriRun
from tests.verification import documents_support as docs

REDACTED = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka", "Tel: 03-1234-5678")

pytestmark = [pytest.mark.system, pytest.mark.browser]


@pytest.mark.parametrize("language", ["ja", "en"])
def test_s1_a_locked_customer_unlocks_herself_in_minutes(
    suite: MamoriRun, playwright_browser: Any, mailbox: Mailbox, language: str
) -> None:
    address = register(suite, language, "s1")
    with device(playwright_browser, language) as usual_phone:  # her usual device: auth learns it
        sign_in(usual_phone, suite, address, PASSWORD)
        assert usual_phone.url.endswith("/account")

    with device(playwright_browser, language) as new_laptop:
        sign_in(new_laptop, suite, address, PASSWORD)
        assert new_laptop.url.endswith("/signin/check"), "a new device is asked for a step-up"
        assert_accessible(new_laptop)
        for _ in range(int(LOCK_AFTER)):
            new_laptop.fill("#c-email_code", "000000")
            submit(new_laptop, "/signin/check")

        # Locked: she sees why, until when (in Tokyo time), her case number, and the way out.
        assert new_laptop.locator("h1").inner_text() == (
            "アカウントはロックされています" if language == "ja" else "Your account is locked"
        )
        assert new_laptop.locator(".case-number").inner_text().startswith("C-")
        assert ("日本標準時" if language == "ja" else "Japan Standard Time") in new_laptop.locator("main").inner_text()
        assert_accessible(new_laptop)
        mails_before = len(mailbox.mails(address))
        submit(new_laptop, "/unlock/code")
        assert_accessible(new_laptop)

        code = mailbox.wait_for(address, r"\b(\d{6})\b", mails_before).group(1)
        new_laptop.fill("#f-code", code)
        new_laptop.fill("#f-new_password", NEW_PASSWORD)
        submit(new_laptop, "/unlock")

        assert new_laptop.url.endswith("/account?notice=unlocked")
        assert new_laptop.locator(".state.ok").is_visible()
        assert_accessible(new_laptop)
        save_screenshot(new_laptop, f"s1-unlocked-{language}")


@pytest.mark.parametrize("language", ["ja", "en"])
def test_s5_the_owner_reverts_an_email_change_with_the_code_from_his_old_mailbox(
    suite: MamoriRun, playwright_browser: Any, mailbox: Mailbox, language: str
) -> None:
    address = register(suite, language, "s5")
    intruders_address = f"elsewhere-{uuid.uuid4().hex[:8]}@example.net"

    with device(playwright_browser, language) as intruder:  # someone holding his password
        sign_in(intruder, suite, address, PASSWORD)
        intruder.goto(f"{suite.gateway_url}/security")
        assert_accessible(intruder)
        intruder.fill("#f-new_email", intruders_address)
        submit(intruder, "/security/email")
        assert_accessible(intruder)
        code = mailbox.wait_for(intruders_address, r"\b(\d{6})\b").group(1)
        intruder.fill("#f-code", code)
        submit(intruder, "/security/email/confirm")
        assert intruder.url.endswith("/security?notice=email_changed")

    # The old mailbox gets the notice; the owner checks its code, signed out, then reverts.
    notice = mailbox.wait_for(address, r"(MMR-[A-Z0-9]{5}-[A-Z0-9]{5})")
    revert_code = mailbox.wait_for(address, r"\n {4}(\S+)\s*\n").group(1)
    with device(playwright_browser, language) as owner:
        owner.goto(f"{suite.gateway_url}/messages/check")
        owner.fill("#f-reference_code", notice.group(1))
        submit(owner, "/messages/check")
        issued = owner.locator('.notice[role="status"]')
        assert issued.is_visible(), "a real code is confirmed as issued by Mamori"
        assert owner.locator(".notice.ok").count() == 0, "but a code alone is never called genuine"
        assert address not in owner.content()
        assert_accessible(owner)

        owner.goto(f"{suite.gateway_url}/not-me")
        assert_accessible(owner)
        owner.fill("#f-code", revert_code)
        submit(owner, "/not-me")

        text = owner.locator("main").inner_text()
        assert owner.locator(".case-number").inner_text().startswith("C-")
        assert ("日本標準時" if language == "ja" else "Japan Standard Time") in text, (
            "the reset opens at a time in his zone"
        )
        assert ("メールアドレス" if language == "ja" else "e-mail address") in text
        assert_accessible(owner)
        save_screenshot(owner, f"s5-reverted-{language}")

    # The intruder's session ended, and the old address is the account's again.
    refused = httpx.post(
        f"{suite.gateway_url}/api/auth/login", json={"email": intruders_address, "password": PASSWORD}, timeout=30
    )
    assert refused.status_code == 401


@pytest.mark.parametrize("language", ["ja", "en"])
def test_s3_a_held_gift_card_payment_is_verified_from_the_case_page_and_the_account_is_active_again(
    suite: MamoriRun, playwright_browser: Any, mailbox: Mailbox, language: str
) -> None:
    address = register(suite, language, "s3")
    token = api_sign_in(suite, address)
    card = {"token": "tok_visa_4242", "last4": "4242", "expiry": "04/29", "holder_name": "Yuki Tanaka"}
    placed = httpx.post(
        f"{suite.gateway_url}/api/orders/orders",
        timeout=30,
        headers={"authorization": f"Bearer {token}"},
        json={
            "lines": [{"kind": "gift_card", "description": "Gift card", "unit_amount": 100_000, "quantity": 1}],
            "tenders": [{"kind": "card", "amount": 100_000, "card": card}],
        },
    )
    assert placed.status_code in (201, 202) and placed.json()["state"] == "held", placed.text

    with device(playwright_browser, language) as phone:
        sign_in_with_mailed_code(phone, suite, mailbox, address)
        reload_until(phone, f"{suite.gateway_url}/cases", "main ul.messages a")  # the case arrives by event
        phone.locator("main ul.messages a").first.click()
        case_path = phone.url.split(suite.gateway_url, 1)[1]
        assert_accessible(phone)

        phone.set_input_files(
            "#f-file",
            files=[
                {
                    "name": "statement.pdf",
                    "mimeType": "application/pdf",
                    "buffer": docs.text_pdf("Statement", "Card 4242 4242 4242 4242"),
                }
            ],
        )
        submit(phone, f"{case_path}/documents")
        phone.wait_for_selector("main .error", timeout=90_000)  # the first scan also starts the scan server
        assert (
            "カード番号がすべて見えています" if language == "ja" else "A full card number is visible"
        ) in phone.locator("h1").inner_text()
        assert_accessible(phone)

        phone.goto(f"{suite.gateway_url}{case_path}")
        # A file over 10 MB is not sent at all: the page says the limit and the form is ready again.
        too_big = {"name": "IMG_2040.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff" + b"p" * 11_000_000}
        phone.set_input_files("#f-file", files=[too_big])
        phone.locator(f"main form[action='{case_path}/documents'] button[type=submit]").click()
        phone.wait_for_selector("#upload-too-large", state="visible")
        assert "10 MB" in phone.locator("#upload-too-large").inner_text()
        assert phone.locator(f"main form[action='{case_path}/documents'] button[type=submit]").is_enabled()
        # The statement as a phone photographs it: a 2 MB JPEG, the number hidden but the last 4.
        photo = docs.phone_photo(*REDACTED)
        assert len(photo) > 2_000_000
        phone.set_input_files("#f-file", files=[{"name": "IMG_2041.jpg", "mimeType": "image/jpeg", "buffer": photo}])
        submit(phone, f"{case_path}/documents")
        phone.wait_for_url("**notice=uploaded", timeout=120_000)
        phone.select_option("#f-item", "billing_address")
        phone.fill("#f-value", "2-1-1 Nihonbashi, Tokyo 103-0027")
        submit(phone, f"{case_path}/supplements")
        phone.wait_for_url("**notice=supplement_added")
        assert_accessible(phone)

        with device(playwright_browser, language) as desk:  # the specialist, on the same sign-in page
            specialist, secret = make_staff(suite, "specialist")
            sign_in_with_totp(desk, suite, specialist, secret)
            assert desk.url.endswith("/staff")
            desk.goto(f"{suite.gateway_url}/staff{case_path}")
            assert desk.locator("main a[href^='/staff/documents/']").count() == 1
            assert_accessible(desk)
            desk.check("#d-approve")
            desk.select_option("#f-reason", "verified")
            submit(desk, f"/staff{case_path}/decision")
            desk.wait_for_url("**notice=decided")

        reload_until(phone, f"{suite.gateway_url}/account", ".state.ok")  # auth lifts the restriction by event
        assert phone.locator(".state.ok").is_visible()
        phone.goto(f"{suite.gateway_url}{case_path}")
        assert ("承認済み" if language == "ja" else "Approved") in phone.locator("main").inner_text()
        assert_accessible(phone)
        save_screenshot(phone, f"s3-approved-{language}")


@pytest.mark.parametrize("language", ["ja", "en"])
def test_s4_not_me_on_a_digital_order_refunds_points_and_gift_balance(
    suite: MamoriRun, playwright_browser: Any, mailbox: Mailbox, language: str
) -> None:
    address = register(suite, language, "s4")
    token = api_sign_in(suite, address)
    headers = {"authorization": f"Bearer {token}"}
    account_id = httpx.get(f"{suite.gateway_url}/api/auth/me", headers=headers, timeout=30).json()["account_id"]
    grant_in_orders(suite, account_id, "points", 300)
    grant_in_orders(suite, account_id, "gift_balance", 2_000)
    placed = httpx.post(
        f"{suite.gateway_url}/api/orders/orders",
        timeout=30,
        headers=headers,
        json={
            "lines": [{"kind": "digital", "description": "E-book", "unit_amount": 1_200, "quantity": 1}],
            "tenders": [{"kind": "points", "amount": 300}, {"kind": "gift_balance", "amount": 900}],
        },
    )
    assert placed.status_code in (201, 202), placed.text
    order_id = placed.json()["id"]

    with device(playwright_browser, language) as phone:
        sign_in_with_mailed_code(phone, suite, mailbox, address)
        phone.goto(f"{suite.gateway_url}/orders")
        assert_accessible(phone)
        phone.locator(f"main a[href='/orders/{order_id}']").click()
        assert_accessible(phone)
        submit(phone, f"/orders/{order_id}/not-me")
        phone.wait_for_url("**notice=not_mine")

        refunds = phone.locator("section[aria-labelledby='refunds-h']").inner_text()
        assert re.search(r"(ポイント: 300ポイント|Points: 300 points)", refunds), refunds  # points, not yen
        assert re.search(r"(ギフト残高: 900円|Gift card balance: ¥900)", refunds), refunds
        assert "JPY" not in refunds and "￥" not in refunds
        pdf = phone.request.get(f"{suite.gateway_url}/orders/{order_id}/confirmation.pdf")
        assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
        assert_accessible(phone)
        save_screenshot(phone, f"s4-refunded-{language}")
