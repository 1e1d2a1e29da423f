"""Every portal page in headless Chromium, in Japanese at 360 px and in English: axe-core finds no
serious or critical violation, nothing overflows the small screen, and the keyboard focus shows."""

from __future__ import annotations

from typing import Any

import pytest

from tests.portal.browser import (
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
