"""Story S2 walked in headless Chromium against the real suite: someone in the account orders and
changes the password; the owner reverts the change from the notice mail, which freezes the
account; after the reset, the orders page shows the order cancelled and refunded, with the
printable confirmation.

The suite here has no cool-down between a freeze and the reset (``MAMORI_RESET_COOLDOWN_AFTER_
FREEZE_SECONDS=0``) so the journey needs no waiting; the cool-down itself is auth's, tested there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.portal.browser import (
    NEW_PASSWORD,
    PASSWORD,
    Mailbox,
    api_sign_in,
    assert_accessible,
    device,
    register,
    reload_until,
    save_screenshot,
    sign_in_with_mailed_code,
    submit,
)
from tests.support.processes import MamoriRun

pytestmark = [pytest.mark.system, pytest.mark.browser]

REVERT_CODE = r"\b([A-Z2-9]{4}(?:-[A-Z2-9]{4}){3})\b"
RESET_TOKEN = r"(?m)^\s{4}([A-Za-z0-9_-]{40,})\s*$"


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, playwright_browser: Any) -> Iterator[MamoriRun]:
    run = MamoriRun(
        tmp_path_factory.mktemp("portal-s2") / "var",
        args=["--no-demo"],
        env={"MAMORI_RESET_COOLDOWN_AFTER_FREEZE_SECONDS": "0"},
    )
    try:
        yield run.start()
    finally:
        run.close()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_s2_a_revert_freezes_and_the_orders_page_shows_the_intruders_order_cancelled_and_refunded(
    suite: MamoriRun, playwright_browser: Any, mailbox: Mailbox, language: str
) -> None:
    address = register(suite, language, "s2")
    intruder = {"authorization": f"Bearer {api_sign_in(suite, address)}"}
    card = {
        "token": "tok_visa_4242",
        "last4": "4242",
        "expiry": "04/29",
        "holder_name": "Sato Hana" if language == "en" else "佐藤花",
    }  # as registered
    placed = httpx.post(
        f"{suite.gateway_url}/api/orders/orders",
        timeout=30,
        headers=intruder,
        json={
            # Not a top-up: orders holds a top-up from a session this young (risk/rules.py), and
            # this journey is about a captured order being refunded.
            "lines": [{"kind": "digital", "description": "E-book", "unit_amount": 5_000, "quantity": 1}],
            "tenders": [{"kind": "card", "amount": 5_000, "card": card}],
        },
    )  # captured at once: it is refunded
    assert placed.status_code in (201, 202), placed.text
    order_id = placed.json()["id"]
    changed = httpx.post(
        f"{suite.gateway_url}/api/auth/password/change",
        timeout=30,
        headers=intruder,
        json={"current_password": PASSWORD, "new_password": "intruders-own-secret-77", "end_other_sessions": True},
    )
    assert changed.status_code == 200, changed.text

    revert_code = mailbox.wait_for(address, REVERT_CODE).group(1)
    with device(playwright_browser, language) as owner:
        owner.goto(f"{suite.gateway_url}/not-me")
        owner.fill("#f-code", revert_code)
        submit(owner, "/not-me")
        assert owner.locator(".case-number").inner_text().startswith("C-")
        assert_accessible(owner)

        mails_before = len(mailbox.mails(address))
        owner.goto(f"{suite.gateway_url}/reset")
        owner.fill("#f-email", address)
        submit(owner, "/reset")
        reset_token = mailbox.wait_for(address, RESET_TOKEN, mails_before).group(1)
        owner.fill("#f-code", reset_token)
        owner.fill("#f-new_password", NEW_PASSWORD)
        submit(owner, "/reset/confirm")
        assert_accessible(owner)

        sign_in_with_mailed_code(owner, suite, mailbox, address, NEW_PASSWORD)
        reload_until(owner, f"{suite.gateway_url}/orders/{order_id}", "section[aria-labelledby='refunds-h']")
        assert owner.locator("main .state").inner_text() == ("キャンセル済み" if language == "ja" else "Cancelled")
        refunds = owner.locator("section[aria-labelledby='refunds-h']").inner_text()
        assert "4242" in refunds and "5,000" in refunds, refunds
        pdf = owner.request.get(f"{suite.gateway_url}/orders/{order_id}/confirmation.pdf")
        assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
        assert_accessible(owner)
        save_screenshot(owner, f"s2-refunded-{language}")
