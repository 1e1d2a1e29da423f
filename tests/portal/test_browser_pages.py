"""Every portal page in headless Chromium, in Japanese at 360 px and in English: axe-core finds no
serious or critical violation, nothing overflows the small screen, and the keyboard focus shows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.portal.browser import (
    PASSWORD,
    Mailbox,
    api_sign_in,
    assert_accessible,
    device,
    register,
    reload_until,
    save_screenshot,
    sign_in,
    sign_in_with_mailed_code,
    submit,
)
from tests.support.processes import MamoriRun

pytestmark = [pytest.mark.system, pytest.mark.browser]

SIGNED_OUT_PAGES = ("/", "/signin", "/unlock", "/not-me", "/reset", "/messages/check", "/no-such-page")
SIGNED_IN_PAGES = ("/account", "/messages", "/security", "/security/sessions", "/security/events", "/messages/check")


def assert_fits(page: Any) -> None:
    """No sideways scrolling: the page is usable at the window's width."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the window"


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_page_is_accessible_and_fits_the_window(
    suite: MamoriRun, playwright_browser: Any, mailbox: Mailbox, language: str
) -> None:
    address = register(suite, language, "tour")
    with device(playwright_browser, language) as page:
        for path in SIGNED_OUT_PAGES:
            page.goto(f"{suite.gateway_url}{path}")
            assert page.locator("html").get_attribute("lang") == language
            assert_accessible(page)
            assert_fits(page)
    with device(playwright_browser, language) as page:
        page.goto(f"{suite.gateway_url}/unlock")
        page.fill("#f-email", address)
        submit(page, "/unlock/code")
        assert_accessible(page)  # the code step
        page.goto(f"{suite.gateway_url}/reset")
        page.fill("#f-email", address)
        submit(page, "/reset")
        assert_accessible(page)

        sign_in(page, suite, address, PASSWORD)
        for path in SIGNED_IN_PAGES:
            page.goto(f"{suite.gateway_url}{path}")
            assert_accessible(page)
            assert_fits(page)
        page.goto(f"{suite.gateway_url}/security")
        submit(page, "/security/totp")
        assert page.locator("figure.qr svg").is_visible()
        assert_accessible(page)
        assert_fits(page)

        page.goto(f"{suite.gateway_url}/security")
        page.keyboard.press("Tab")  # the skip link comes first and shows when focused
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert page.evaluate("document.activeElement.className") == "skip" and outline != "none"
        save_screenshot(page, f"security-{language}")


#: A common phone's window (issue 19: the sessions table and the phone field at 390 px).
PHONE_WINDOW = {"width": 390, "height": 844}


def assert_in_window(page: Any, selector: str) -> list[dict[str, float]]:
    boxes = [page.locator(selector).nth(index).bounding_box() for index in range(page.locator(selector).count())]
    assert boxes, f"nothing matches {selector} on {page.url}"
    for box in boxes:
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WINDOW["width"], (
            f"{selector} is cut off at {PHONE_WINDOW['width']} px: {box}"
        )
    return boxes


def test_at_390_px_every_sign_out_button_and_the_phone_field_are_whole_and_usable(
    suite: MamoriRun, playwright_browser: Any, mailbox: Mailbox
) -> None:
    address = register(suite, "ja", "narrow")
    token = api_sign_in(suite, address)  # another session (the store's app): it gets a sign-out button
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
    context = playwright_browser.new_context(locale="ja-JP", viewport=PHONE_WINDOW)
    try:
        page = context.new_page()
        sign_in_with_mailed_code(page, suite, mailbox, address)

        page.goto(f"{suite.gateway_url}/security/sessions")
        for box in assert_in_window(page, "main table form[action='/security/sessions/revoke'] button"):
            assert box["y"] >= 0 and box["height"] >= 30
        assert_fits(page)
        assert_accessible(page)
        save_screenshot(page, "sessions-390-ja")

        reload_until(page, f"{suite.gateway_url}/cases", "main ul.messages a")
        page.locator("main ul.messages a").first.click()
        page.wait_for_load_state()
        [phone] = assert_in_window(page, "#f-phone")
        font = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#f-phone')).fontSize)")
        other = page.evaluate("document.querySelector('#f-note').getBoundingClientRect().width")
        assert phone["height"] >= 40 and font >= 16, (phone, font)
        assert abs(phone["width"] - other) < 2, "the phone field is as wide as the other fields"
        assert_fits(page)
        save_screenshot(page, "case-390-ja")
    finally:
        context.close()
