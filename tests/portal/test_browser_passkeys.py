"""Issue 11 walked in headless Chromium against the real suite: passkeys made and used by a
virtual authenticator (the DevTools WebAuthn domain, through Playwright's CDP session).

A customer enrols a passkey on the security page, signs out and signs in with it and no
password; a new device (another browser profile holding a copy of the same credential) passes
the step-up with it; a removed passkey no longer signs in; and with "passkey required" the
password alone never opens the account. Each journey runs in Japanese at 360 px and in English,
checks every page with axe-core and saves its last page under ``tests/artifacts/screenshots/``.

The portal is reached as ``http://localhost:<port>``: an IP address is not a valid relying party
id, so a browser refuses a ceremony on ``http://127.0.0.1:<port>``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.portal.browser import (
    LOCALES,
    PASSWORD,
    WINDOWS,
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

NOTICE_REFERENCE = r"(MMR-[A-Z0-9]{5}-[A-Z0-9]{5})"
AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, playwright_browser: Any) -> Iterator[MamoriRun]:
    run = MamoriRun(tmp_path_factory.mktemp("portal-passkeys") / "var", args=["--no-demo"])
    try:
        run.start()
        # The relying party is "localhost": the browser must be sent there, not to the loopback IP.
        assert run.gateway_url.startswith("http://localhost:"), run.gateway_url
        yield run
    finally:
        run.close()


@dataclass
class Phone:
    """A browser profile with a platform authenticator of its own (fingerprint, face, screen lock)."""

    page: Any
    cdp: Any
    authenticator_id: str

    def credentials(self) -> list[dict[str, Any]]:
        return list(self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id})["credentials"])

    def refuse_verification(self) -> None:
        """The customer cancels the fingerprint prompt: the authenticator verifies nobody."""
        self.cdp.send("WebAuthn.setUserVerified", {"authenticatorId": self.authenticator_id, "isUserVerified": False})


@contextlib.contextmanager
def phone_with_authenticator(
    browser: Any, language: str, copied: list[dict[str, Any]] | None = None
) -> Iterator[Phone]:
    with device(browser, language) as page:
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        authenticator_id = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})["authenticatorId"]
        for credential in copied or []:
            cdp.send("WebAuthn.addCredential", {"authenticatorId": authenticator_id, "credential": credential})
        yield Phone(page, cdp, authenticator_id)


def enrol(phone: Phone, suite: MamoriRun, mailbox: Mailbox, address: str, name: str) -> list[str]:
    """Signed in with the password, the customer adds a passkey on the security page; the recovery
    codes shown once beside the first passkey."""
    page = phone.page
    sign_in(page, suite, address, PASSWORD)
    assert page.url.endswith("/account"), "the first device signs in with the password alone"
    page.goto(f"{suite.gateway_url}/security")
    assert_accessible(page)
    mails_before = len(mailbox.mails(address))
    page.fill("#f-passkey_name", name)
    page.locator("form[data-passkey='register'] [data-passkey-start]").click()
    # The first passkey of an account without TOTP comes with recovery codes, shown once: the way
    # back in if the passkey is lost, now that the mailbox alone no longer signs it in.
    page.wait_for_url(re.compile(r"/security/passkeys$"))
    codes = page.locator("ul.codes code").all_inner_texts()
    assert len(codes) >= 8, "recovery codes, shown once, so a lost passkey locks nobody out"
    assert_accessible(page)
    page.locator("main a.button[href='/security']").click()
    page.wait_for_url(re.compile(r"/security$"))
    section = page.locator("section[aria-labelledby='passkeys-h']")
    assert name in section.inner_text()
    assert page.locator(".passkeys time").first.get_attribute("datetime"), "when it was added, as a time"
    assert len(phone.credentials()) == 1
    mailbox.wait_for(address, NOTICE_REFERENCE, mails_before)  # the notice with its revert code
    assert_accessible(page)
    return codes


def sign_in_with_passkey(page: Any, suite: MamoriRun) -> None:
    page.goto(f"{suite.gateway_url}/signin")
    assert_accessible(page)
    button = page.locator("form[data-passkey='signin'] [data-passkey-start]")
    assert button.is_visible(), "a browser with WebAuthn is offered the passkey"
    button.click()


def sign_out(page: Any) -> None:
    page.locator("header form[action='/signout'] button").click()
    page.wait_for_load_state()


def signed_in(page: Any) -> bool:
    return bool(page.locator("header form[action='/signout']").count() == 1)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_customer_enrols_a_passkey_signs_out_and_signs_in_with_it_and_no_password(
    suite: MamoriRun, playwright_browser: Any, mailbox: Mailbox, language: str
) -> None:
    address = register(suite, language, "pk-enrol")
    with phone_with_authenticator(playwright_browser, language) as phone:
        enrol(phone, suite, mailbox, address, "iPhone" if language == "en" else "私のスマホ")
        zone = "日本標準時" if language == "ja" else "Japan Standard Time"
        assert zone in phone.page.locator("section[aria-labelledby='passkeys-h']").inner_text()
        sign_out(phone.page)
        assert not signed_in(phone.page)

        sign_in_with_passkey(phone.page, suite)
        phone.page.wait_for_url(re.compile(r"/account$"))
        assert signed_in(phone.page), "the passkey alone signed her in: no e-mail, no password typed"
        assert_accessible(phone.page)

        phone.page.goto(f"{suite.gateway_url}/security/events")
        events = phone.page.locator("main table").inner_text()
        assert ("パスキーを追加" if language == "ja" else "Passkey added") in events
        phone.page.goto(f"{suite.gateway_url}/security")
        assert_accessible(phone.page)
        save_screenshot(phone.page, f"passkey-enrolled-{language}")


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_new_device_passes_the_step_up_with_the_passkey_offered_first(
    suite: MamoriRun, playwright_browser: Any, mailbox: Mailbox, language: str
) -> None:
    address = register(suite, language, "pk-stepup")
    with phone_with_authenticator(playwright_browser, language) as phone:
        enrol(phone, suite, mailbox, address, "Phone")
        synced = phone.credentials()  # a synced passkey: the same credential on her other device

    with phone_with_authenticator(playwright_browser, language, copied=synced) as laptop:
        page = laptop.page
        sign_in(page, suite, address, PASSWORD)
        assert page.url.endswith("/signin/check"), "a new device is asked for a step-up"
        first_form = page.locator("main form").first
        assert first_form.get_attribute("data-passkey") == "step-up", "the passkey is offered first"
        # The mailbox is no second factor for a passkey account (an intruder may hold it): the
        # recovery codes shown at enrolment are the way in without the passkey.
        assert page.locator("#c-email_code").count() == 0, "no mailed code stands in for the passkey"
        assert page.locator("#c-recovery_code").count() == 1, "the recovery codes are still there below"
        assert_accessible(page)
        save_screenshot(page, f"passkey-step-up-offered-{language}")

        page.locator("form[data-passkey='step-up'] [data-passkey-start]").click()
        page.wait_for_url(re.compile(r"/account$"))
        assert signed_in(page)
        assert_accessible(page)
        save_screenshot(page, f"passkey-step-up-{language}")


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_removed_passkey_signs_in_no_more_and_a_cancelled_prompt_is_explained(
    suite: MamoriRun, playwright_browser: Any, mailbox: Mailbox, language: str
) -> None:
    address = register(suite, language, "pk-remove")
    with phone_with_authenticator(playwright_browser, language) as phone:
        page = phone.page
        enrol(phone, suite, mailbox, address, "Old phone")
        mails_before = len(mailbox.mails(address))
        remove = page.locator("section[aria-labelledby='passkeys-h'] form[action$='/remove'] button")
        remove.wait_for(state="visible")
        with page.expect_navigation(timeout=60_000):  # a busy machine answers the removal slowly
            remove.click()
        assert re.search(r"/security\?notice=passkey_removed$", page.url), page.url
        assert "Old phone" not in page.locator("section[aria-labelledby='passkeys-h']").inner_text()
        mailbox.wait_for(address, NOTICE_REFERENCE, mails_before)
        assert_accessible(page)
        sign_out(page)

        # The authenticator still holds the credential, but auth no longer knows it.
        sign_in_with_passkey(page, suite)
        page.wait_for_selector("main .error:not([data-passkey-error])")
        assert not signed_in(page)
        refused = "このパスキーは受け付けられませんでした" if language == "ja" else "This passkey was not accepted"
        assert refused in page.locator("main .error:not([data-passkey-error])").inner_text()
        assert_accessible(page)
        save_screenshot(page, f"passkey-refused-{language}")

        # She cancels the fingerprint prompt: the page says so, in her language, and nothing happens.
        phone.refuse_verification()
        sign_in_with_passkey(page, suite)
        page.wait_for_selector("[data-passkey-error]:not([hidden])")
        cancelled = "キャンセルされたか" if language == "ja" else "cancelled or timed out"
        assert cancelled in page.locator("[data-passkey-error]").inner_text()
        assert not signed_in(page)
        assert_accessible(page)
        save_screenshot(page, f"passkey-removed-{language}")


@pytest.mark.parametrize("language", ["ja", "en"])
def test_with_passkey_required_the_password_alone_opens_nothing(
    suite: MamoriRun, playwright_browser: Any, mailbox: Mailbox, language: str
) -> None:
    address = register(suite, language, "pk-required")
    with phone_with_authenticator(playwright_browser, language) as phone:
        page = phone.page
        codes = enrol(phone, suite, mailbox, address, "Phone")  # its recovery codes came with the passkey
        submit(page, "/security/passkey-required")
        assert_accessible(page)
        save_screenshot(page, f"passkey-required-{language}")
        page.goto(f"{suite.gateway_url}/security")
        assert codes[0] not in page.content(), "the codes are not shown again"
        sign_out(page)

        # Someone with her password, on her own device even: a step-up that takes no mailed code.
        sign_in(page, suite, address, PASSWORD)
        assert page.url.endswith("/signin/check") and not signed_in(page)
        assert page.locator("#c-email_code").count() == 0 and page.locator("#c-totp").count() == 0
        assert page.locator("#c-recovery_code").count() == 1
        assert ("パスキーが必須" if language == "ja" else "requires a passkey") in page.locator("main").inner_text()
        assert_accessible(page)
        save_screenshot(page, f"passkey-required-step-up-{language}")
        api = httpx.post(
            f"{suite.gateway_url}/api/auth/login", json={"email": address, "password": PASSWORD}, timeout=30
        )
        assert api.status_code == 401 and api.json()["methods"] == ["passkey", "recovery_code"], api.text
        assert "access_token" not in api.text

        # Her passkey opens it.
        page.locator("form[data-passkey='step-up'] [data-passkey-start]").click()
        page.wait_for_url(re.compile(r"/account$"))
        assert signed_in(page)
        assert_accessible(page)
        save_screenshot(page, f"passkey-required-{language}")


@pytest.mark.parametrize("language", ["ja", "en"])
def test_without_webauthn_or_javascript_no_passkey_button_shows_and_the_password_still_signs_in(
    suite: MamoriRun, playwright_browser: Any, language: str
) -> None:
    address = register(suite, language, "pk-nojs")
    with device(playwright_browser, language) as page:  # a browser without WebAuthn
        page.add_init_script("delete window.PublicKeyCredential;")
        sign_in(page, suite, address, PASSWORD)
        assert page.url.endswith("/account")
        page.goto(f"{suite.gateway_url}/security")
        assert not page.locator("form[data-passkey='register']").is_visible()
        assert page.locator("[data-passkey-unsupported]").is_visible(), "the page says what adding one needs"
        assert_accessible(page)
        sign_out(page)
        assert not page.locator("form[data-passkey='signin'] [data-passkey-start]").is_visible()

    context = playwright_browser.new_context(
        locale=LOCALES[language], viewport=WINDOWS[language], java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(f"{suite.gateway_url}/signin")
        assert not page.locator("form[data-passkey='signin'] [data-passkey-start]").is_visible()
        page.fill("#f-email", address)
        page.fill("#f-password", PASSWORD)
        submit(page, "/signin")
        assert page.url.endswith("/signin/check"), "a new device: the password form worked, a step-up follows"
        assert page.locator("#c-email_code").is_visible(), "the mailed code's form, which needs no script"
    finally:
        context.close()
