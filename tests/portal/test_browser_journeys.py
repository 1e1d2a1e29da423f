"""Stories S1 and S5 walked by a customer in headless Chromium, against the real suite.

``mamori run`` starts every process (gateway, auth, verification, orders, portal) as a user
starts them; the browser talks only to the gateway, and the customer reads the codes from the
.eml files the suite mails. Each journey runs in Japanese (at 360 px wide, a small phone) and in
English (a desktop window), checks every page with axe-core and saves its last page under
``tests/artifacts/screenshots/``.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.portal.browser import (
    LOCK_AFTER,
    NEW_PASSWORD,
    PASSWORD,
    Mailbox,
    assert_accessible,
    device,
    register,
    save_screenshot,
    sign_in,
    submit,
)
from tests.support.processes import MamoriRun

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
        assert new_laptop.locator("h1").inner_text() == ("アカウントはロックされています" if language == "ja"
                                                          else "Your account is locked")
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

    # The old mailbox gets the notice; the owner checks it is genuine, signed out, then reverts.
    notice = mailbox.wait_for(address, r"(MMR-[A-Z0-9]{5}-[A-Z0-9]{5})")
    revert_code = mailbox.wait_for(address, r"\n {4}(\S+)\s*\n").group(1)
    with device(playwright_browser, language) as owner:
        owner.goto(f"{suite.gateway_url}/messages/check")
        owner.fill("#f-reference_code", notice.group(1))
        submit(owner, "/messages/check")
        assert owner.locator(".notice.ok").is_visible(), "a real notice is confirmed as issued by Mamori"
        assert address not in owner.content()
        assert_accessible(owner)

        owner.goto(f"{suite.gateway_url}/not-me")
        assert_accessible(owner)
        owner.fill("#f-code", revert_code)
        submit(owner, "/not-me")

        text = owner.locator("main").inner_text()
        assert owner.locator(".case-number").inner_text().startswith("C-")
        assert ("日本標準時" if language == "ja" else "Japan Standard Time") in text, "the reset opens at a time in his zone"
        assert ("メールアドレス" if language == "ja" else "e-mail address") in text
        assert_accessible(owner)
        save_screenshot(owner, f"s5-reverted-{language}")

    # The intruder's session ended, and the old address is the account's again.
    refused = httpx.post(f"{suite.gateway_url}/api/auth/login", json={"email": intruders_address,
                                                                      "password": PASSWORD}, timeout=30)
    assert refused.status_code == 401
