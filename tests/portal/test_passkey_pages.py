"""The portal's passkey pages: what a customer's browser (and its script) sees, mostly against a
stand-in for auth's passkey operations (:mod:`tests.support.fake_auth_passkeys`) that records what
reached it, and at the end against the real auth service in-process with a software
authenticator. The WebAuthn checks themselves are auth's; the whole ceremony runs in Chromium in
``test_browser_passkeys.py``."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from portal.config import PortalSettings
from portal.main import create_app
from portal.session import SESSION_COOKIE
from tests.portal.conftest import PortalHarness
from tests.support.fake_auth_passkeys import PASSWORD, FakeAuth
from tests.support.webauthn_authenticator import SoftwareAuthenticator

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    def __init__(self, client: TestClient, fake: FakeAuth) -> None:
        self.client = client
        self.fake = fake

    def csrf(self, path: str = "/signin") -> str:
        found = _CSRF.search(self.client.get(path).text)
        assert found, f"no CSRF field on {path}"
        return found.group(1)

    def post(self, path: str, data: dict[str, Any], form_page: str = "/signin", **kwargs: Any) -> httpx.Response:
        return self.client.post(
            path, data={**data, "csrf_token": self.csrf(form_page)}, follow_redirects=False, **kwargs
        )

    def sign_in(self, email: str) -> httpx.Response:
        return self.post("/signin", {"email": email, "password": PASSWORD, "next": "/account"})


def credential(credential_id: str) -> str:
    """What ``PublicKeyCredential.toJSON()`` gives the script (the parts the portal looks at)."""
    return json.dumps(
        {
            "id": credential_id,
            "rawId": credential_id,
            "type": "public-key",
            "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"},
            "clientExtensionResults": {},
        }
    )


@pytest.fixture
def fake() -> FakeAuth:
    return FakeAuth()


@pytest.fixture
def browser(fake: FakeAuth, data_dir: Path) -> Iterator[Browser]:
    app = create_app(PortalSettings(data_dir=data_dir), transports={"auth": httpx.ASGITransport(app=fake.app())})
    with TestClient(
        app, base_url="http://portal.test", client=("127.0.0.1", 50001), headers={"accept-language": "en"}
    ) as client:
        yield Browser(client, fake)


def options(browser: Browser, path: str, form_page: str) -> httpx.Response:
    return browser.post(path, {}, form_page=form_page, headers={"accept": "application/json"})


# --- signing in with a passkey ------------------------------------------------------------------


def test_the_sign_in_page_offers_a_passkey_only_to_a_browser_that_can_use_one(browser: Browser) -> None:
    page = browser.client.get("/signin")

    passkey = re.search(r'<div class="passkey" data-passkey-show hidden>(.*?)</div>\s*<form', page.text, re.DOTALL)
    assert passkey, "the passkey button is inside a block hidden until the script finds WebAuthn"
    assert "Sign in with a passkey" in passkey.group(1) and 'name="csrf_token"' in passkey.group(1)
    assert '<script src="/static/passkeys.js" defer></script>' in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text) and " style=" not in page.text
    assert 'action="/signin"' in page.text, "the password form is there without JavaScript"
    script = browser.client.get("/static/passkeys.js")
    assert script.status_code == 200 and "parseRequestOptionsFromJSON" in script.text


def test_passkey_options_need_the_pages_csrf_token_and_carry_no_token(browser: Browser, fake: FakeAuth) -> None:
    browser.client.get("/signin")
    forged = browser.client.post("/signin/passkey/options", data={"csrf_token": "0" * 64})

    assert forged.status_code == 403 and forged.json()["error"] == "csrf"
    assert "reload" in forged.json()["message"]
    assert not fake.calls("/passkeys/sign-in/options"), "a forged post reaches nobody"

    answer = options(browser, "/signin/passkey/options", "/signin")
    assert answer.status_code == 200
    assert set(answer.json()) == {"ceremony_id", "options"} and answer.json()["options"]["challenge"]
    assert SESSION_COOKIE not in browser.client.cookies


def test_a_passkey_signs_in_with_no_password_and_the_session_is_kept_as_for_a_password(
    browser: Browser, fake: FakeAuth
) -> None:
    account = fake.add("hana@example.com")
    fake.passkey(account, "cred-1", "My phone")
    ceremony = options(browser, "/signin/passkey/options", "/signin").json()["ceremony_id"]

    answer = browser.post(
        "/signin/passkey", {"ceremony_id": ceremony, "credential": credential("cred-1"), "next": "/security"}
    )

    assert answer.status_code == 303 and answer.headers["location"] == "/security"
    session = next(v for v in answer.headers.get_list("set-cookie") if v.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session and "SameSite=lax" in session
    assert not fake.calls("/login"), "no password was asked for"
    sent = json.loads(fake.calls("/passkeys/sign-in")[-1][2])
    # The device travels as auth's device token (a header, once auth gave the browser one), never as a
    # name the portal made up.
    assert sent["credential"]["id"] == "cred-1" and set(sent) == {"ceremony_id", "credential"}
    page = browser.client.get("/security")
    assert page.status_code == 200 and "My phone" in page.text


@pytest.mark.parametrize(
    ("credential_id", "language", "text"),
    [
        ("cred-unknown", "en", "This passkey was not accepted."),
        ("cred-unknown", "ja", "このパスキーは受け付けられませんでした。"),
        ("cloned-1", "en", "it looks like a copy of your authenticator"),
    ],
)
def test_a_passkey_auth_refuses_is_said_plainly_and_signs_nobody_in(
    browser: Browser, fake: FakeAuth, credential_id: str, language: str, text: str
) -> None:
    fake.passkey(fake.add("hana@example.com"), "cred-1")
    ceremony = options(browser, "/signin/passkey/options", "/signin").json()["ceremony_id"]

    answer = browser.post(
        "/signin/passkey",
        {"ceremony_id": ceremony, "credential": credential(credential_id)},
        headers={"accept-language": language},
    )

    assert answer.status_code == 401 and text in html.unescape(answer.text)
    assert SESSION_COOKIE not in browser.client.cookies


def test_a_post_without_a_credential_does_not_call_auth(browser: Browser, fake: FakeAuth) -> None:
    answer = browser.post("/signin/passkey", {"ceremony_id": "cer-1", "credential": "{not json"})

    assert answer.status_code == 422 and "The passkey did not answer." in answer.text
    assert not fake.calls("/passkeys/sign-in")


def test_a_forged_passkey_sign_in_form_is_refused(browser: Browser, fake: FakeAuth) -> None:
    fake.passkey(fake.add("hana@example.com"), "cred-1")
    ceremony = options(browser, "/signin/passkey/options", "/signin").json()["ceremony_id"]

    forged = browser.client.post(
        "/signin/passkey", data={"ceremony_id": ceremony, "credential": credential("cred-1"), "csrf_token": "0" * 64}
    )

    assert forged.status_code == 403 and SESSION_COOKIE not in browser.client.cookies
    assert [call[1] for call in fake.calls("/passkeys/sign-in")] == ["/api/auth/passkeys/sign-in/options"]


# --- the step-up ------------------------------------------------------------------------------


def test_the_step_up_offers_the_passkey_first_and_takes_it(browser: Browser, fake: FakeAuth) -> None:
    account = fake.add("hana@example.com", step_up=True)
    fake.passkey(account, "cred-1")

    asked = browser.sign_in("hana@example.com")
    assert asked.status_code == 303 and asked.headers["location"] == "/signin/check"
    page = browser.client.get("/signin/check").text
    assert page.index('data-passkey="step-up"') < page.index('value="email_code"'), "the passkey comes first"
    found = re.search(r'data-options="([^"]+)"', page)
    assert found, "the step-up's WebAuthn options are in the page for the script"
    offered = json.loads(html.unescape(found.group(1)))
    assert offered["allowCredentials"] == [{"type": "public-key", "id": "cred-1"}]

    wrong = browser.post("/signin/check", {"method": "passkey", "credential": credential("cred-2")}, "/signin/check")
    assert wrong.status_code == 401 and "This passkey was not accepted." in wrong.text
    assert "Attempts left: 2" in wrong.text and 'data-passkey="step-up"' in wrong.text

    done = browser.post("/signin/check", {"method": "passkey", "credential": credential("cred-1")}, "/signin/check")
    assert done.status_code == 303 and done.headers["location"] == "/account"
    sent = json.loads(fake.calls("/challenges/complete")[-1][2])
    assert sent["method"] == "passkey" and "code" not in sent and sent["credential"]["id"] == "cred-1"
    assert SESSION_COOKIE in browser.client.cookies


def test_a_step_up_with_the_passkey_alone_says_so(browser: Browser, fake: FakeAuth) -> None:
    account = fake.add("hana@example.com", step_up=True)
    fake.passkey(account, "cred-1")
    fake.passkey_only = True  # auth's code mails for the hour are spent: the passkey is all it offers

    browser.sign_in("hana@example.com")
    page = browser.client.get("/signin/check").text

    assert "so we ask for your passkey before you continue" in page and "Use your passkey" in page
    assert "Or with a code" not in page and "requires a passkey" not in page


def test_passkey_options_too_large_for_a_cookie_leave_the_codes_offered(browser: Browser, fake: FakeAuth) -> None:
    account = fake.add("hana@example.com", step_up=True)
    for number in range(40):
        fake.passkey(account, f"cred-{number:02d}-" + "x" * 80)

    browser.sign_in("hana@example.com")
    page = browser.client.get("/signin/check").text

    assert 'data-passkey="step-up"' not in page and 'value="email_code"' in page


def test_passkey_required_offers_only_the_passkey_and_recovery_codes(browser: Browser, fake: FakeAuth) -> None:
    account = fake.add("hana@example.com", passkey_required=True)
    fake.passkey(account, "cred-1")

    assert browser.sign_in("hana@example.com").headers["location"] == "/signin/check"
    page = browser.client.get("/signin/check").text

    assert "Use your passkey" in page and "One of your recovery codes" in page
    assert 'value="email_code"' not in page and SESSION_COOKIE not in browser.client.cookies


def test_an_unlock_under_passkey_required_still_asks_for_the_passkey(browser: Browser, fake: FakeAuth) -> None:
    account = fake.add("hana@example.com", passkey_required=True)
    fake.passkey(account, "cred-1")

    unlocked = browser.post(
        "/unlock", {"email": "hana@example.com", "code": "123456", "new_password": "another-quiet-river-42"}, "/unlock"
    )

    assert unlocked.status_code == 303 and unlocked.headers["location"] == "/signin/check"
    assert SESSION_COOKIE not in browser.client.cookies, "the mailbox and a new password are not the passkey"
    page = browser.client.get("/signin/check").text
    assert "Your account requires a passkey" in page and "Use your passkey" in page
    done = browser.post("/signin/check", {"method": "passkey", "credential": credential("cred-1")}, "/signin/check")
    assert done.headers["location"] == "/account?notice=unlocked"


# --- the security page ------------------------------------------------------------------------


def signed_in(browser: Browser, fake: FakeAuth, email: str = "hana@example.com", **options: Any) -> Any:
    account = fake.add(email, **options)
    assert browser.sign_in(email).status_code == 303
    return account


def test_the_security_page_lists_passkeys_with_times_in_the_customers_zone(browser: Browser, fake: FakeAuth) -> None:
    account = signed_in(browser, fake)
    fake.passkey(account, "cred-1", "仕事用 PC")

    page = browser.client.get("/security", headers={"accept-language": "ja"}).text

    assert "パスキー" in page and "仕事用 PC" in page
    assert "2026/11/24 0:30" in page and "日本標準時" in page  # 15:30 UTC is past midnight in Tokyo
    assert "まだ使用されていません" in page
    assert "サインインにパスキーを必須にする" in page


def test_adding_a_passkey_runs_through_the_portal_and_is_listed(browser: Browser, fake: FakeAuth) -> None:
    signed_in(browser, fake)

    answer = options(browser, "/security/passkeys/options", "/security")
    assert answer.status_code == 200 and "access_token" not in answer.text
    ceremony = answer.json()["ceremony_id"]
    added = browser.post(
        "/security/passkeys",
        {"ceremony_id": ceremony, "credential": credential("cred-new"), "passkey_name": "My phone"},
        "/security",
    )

    assert added.status_code == 303 and added.headers["location"] == "/security?notice=passkey_added"
    page = browser.client.get(added.headers["location"]).text
    assert "Your passkey is added." in page and "My phone" in page
    assert json.loads(fake.calls("/passkeys/registration")[-1][2])["name"] == "My phone"


@pytest.mark.parametrize(
    ("credential_id", "ceremony_ok", "status", "text"),
    [
        ("cred-1", True, 409, "This passkey is already on your account."),
        ("bad-signature", True, 422, "This passkey was not accepted."),
        ("cred-new", False, 410, "This passkey request has expired."),
    ],
)
def test_a_passkey_auth_will_not_add_is_said_plainly_and_nothing_is_added(
    browser: Browser, fake: FakeAuth, credential_id: str, ceremony_ok: bool, status: int, text: str
) -> None:
    account = signed_in(browser, fake)
    fake.passkey(account, "cred-1")
    ceremony = options(browser, "/security/passkeys/options", "/security").json()["ceremony_id"]

    answer = browser.post(
        "/security/passkeys",
        {"ceremony_id": ceremony if ceremony_ok else "cer-unknown", "credential": credential(credential_id)},
        "/security",
    )

    assert answer.status_code == status and text in answer.text
    assert [p["credential_id"] for p in account.passkeys] == ["cred-1"]


def test_a_forged_add_passkey_form_is_refused_before_auth(browser: Browser, fake: FakeAuth) -> None:
    account = signed_in(browser, fake)
    ceremony = options(browser, "/security/passkeys/options", "/security").json()["ceremony_id"]

    forged = browser.client.post(
        "/security/passkeys", data={"ceremony_id": ceremony, "credential": credential("cred-x"), "csrf_token": "bad"}
    )
    forged_options = browser.client.post("/security/passkeys/options", data={})

    assert forged.status_code == 403 and "This form has expired" in forged.text
    assert forged_options.status_code == 403 and forged_options.json()["error"] == "csrf"
    assert [c[1] for c in fake.calls("/passkeys/registration")] == ["/api/auth/passkeys/registration/options"]
    assert account.passkeys == []


def test_a_stale_sign_in_sends_the_script_to_sign_in_again(browser: Browser, fake: FakeAuth) -> None:
    signed_in(browser, fake, recent_sign_in=False)

    answer = options(browser, "/security/passkeys/options", "/security")

    assert answer.status_code == 401 and answer.json()["next"] == "/security/reauthenticate"
    again = browser.client.get("/security/reauthenticate")
    assert "Sign in again to make this change" in again.text and "Sign in with a passkey" in again.text


def test_a_signed_out_script_is_told_so_in_json(browser: Browser) -> None:
    answer = options(browser, "/security/passkeys/options", "/signin")

    assert answer.status_code == 401 and answer.json()["next"].startswith("/signin")


def test_another_customers_passkey_can_be_neither_renamed_nor_removed(browser: Browser, fake: FakeAuth) -> None:
    other = fake.add("ren@example.com")
    theirs = fake.passkey(other, "cred-ren", "Ren's key")
    signed_in(browser, fake)

    renamed = browser.post(f"/security/passkeys/{theirs['id']}/rename", {"name": "mine now"}, "/security")
    removed = browser.post(f"/security/passkeys/{theirs['id']}/remove", {}, "/security")

    for answer in (renamed, removed):
        assert answer.status_code == 404 and "This passkey is not on your account" in answer.text
    assert other.passkeys == [theirs] and theirs["name"] == "Ren's key"


def test_a_passkey_is_renamed_and_removed(browser: Browser, fake: FakeAuth) -> None:
    account = signed_in(browser, fake)
    mine = fake.passkey(account, "cred-1", "Old name")

    renamed = browser.post(f"/security/passkeys/{mine['id']}/rename", {"name": "Desk computer"}, "/security")
    assert renamed.headers["location"] == "/security?notice=passkey_renamed"
    assert "Desk computer" in browser.client.get("/security").text

    removed = browser.post(f"/security/passkeys/{mine['id']}/remove", {}, "/security")
    assert removed.headers["location"] == "/security?notice=passkey_removed"
    page = browser.client.get(removed.headers["location"]).text
    assert "The passkey is removed." in page and "Desk computer" not in page and "You have no passkey yet." in page


def test_a_stale_sign_in_removes_nothing_and_asks_to_sign_in_again(browser: Browser, fake: FakeAuth) -> None:
    account = signed_in(browser, fake, recent_sign_in=False)
    mine = fake.passkey(account, "cred-1")

    answer = browser.post(f"/security/passkeys/{mine['id']}/remove", {}, "/security")

    assert answer.status_code == 401 and "Sign in again to make this change" in answer.text
    assert account.passkeys == [mine]


def test_requiring_a_passkey_shows_the_new_recovery_codes_once(browser: Browser, fake: FakeAuth) -> None:
    account = signed_in(browser, fake)
    fake.passkey(account, "cred-1")

    turned_on = browser.post("/security/passkey-required", {"required": "on"}, "/security")

    codes = re.findall(r"<li><code>([^<]+)</code></li>", turned_on.text)
    assert turned_on.status_code == 200 and len(codes) == 10
    assert "A passkey is now required" in turned_on.text
    page = browser.client.get("/security").text
    assert "On: your password alone never signs you in." in page and codes[0] not in page
    turned_off = browser.post("/security/passkey-required", {"required": "off"}, "/security")
    assert turned_off.headers["location"] == "/security?notice=passkey_required_off"
    assert account.passkey_required is False


def test_requiring_a_passkey_without_one_is_refused_with_the_reason(browser: Browser, fake: FakeAuth) -> None:
    account = signed_in(browser, fake)

    answer = browser.post("/security/passkey-required", {"required": "on"}, "/security")

    assert answer.status_code == 409 and "Add a passkey first" in answer.text
    assert account.passkey_required is False


# --- against the real auth service (in-process), with a software authenticator ---------------


def test_the_portal_enrols_and_signs_in_with_a_passkey_at_the_real_auth(portal: PortalHarness) -> None:
    """The same routes against auth itself: the options the portal hands the script are ones an
    authenticator takes, and the credential it posts back is one auth verifies."""
    portal.auth.register("hana@example.com")
    assert portal.sign_in("hana@example.com", next_path="/security").status_code == 303
    phone = SoftwareAuthenticator()

    begun = portal.post("/security/passkeys/options", {}, form_page="/security")
    assert begun.status_code == 200 and "access_token" not in begun.text
    made = phone.create(begun.json()["options"])
    added = portal.post(
        "/security/passkeys",
        {"ceremony_id": begun.json()["ceremony_id"], "credential": json.dumps(made), "passkey_name": "My phone"},
        form_page="/security",
    )
    # Her first passkey, and no authenticator app: the recovery codes, her way in if it is lost.
    assert added.status_code == 200 and "Your passkey is added." in added.text, added.text
    assert "If you lose your passkey, each of these codes signs you in once." in added.text
    assert len(re.findall(r"<li><code>[^<]+</code></li>", added.text)) == portal.auth.settings.recovery_code_count
    assert "My phone" in portal.browser.get("/security").text
    portal.post("/signout", {}, form_page="/account")
    assert SESSION_COOKIE not in portal.browser.cookies

    asked = portal.post("/signin/passkey/options", {})
    assertion = phone.get(asked.json()["options"])
    signed = portal.post(
        "/signin/passkey", {"ceremony_id": asked.json()["ceremony_id"], "credential": json.dumps(assertion)}
    )

    assert signed.status_code == 303 and signed.headers["location"] == "/account"
    assert "Hana Sato" in portal.browser.get("/account").text
    replayed = portal.post(
        "/signin/passkey", {"ceremony_id": asked.json()["ceremony_id"], "credential": json.dumps(assertion)}
    )
    assert replayed.status_code == 401 and "This passkey was not accepted." in replayed.text


def test_another_customers_passkey_is_not_found_at_the_real_auth(portal: PortalHarness) -> None:
    portal.auth.register("ren@example.com")
    portal.sign_in("ren@example.com", next_path="/security")
    begun = portal.post("/security/passkeys/options", {}, form_page="/security").json()
    made = SoftwareAuthenticator().create(begun["options"])
    portal.post(
        "/security/passkeys",
        {"ceremony_id": begun["ceremony_id"], "credential": json.dumps(made)},
        form_page="/security",
    )
    theirs = re.search(r'action="/security/passkeys/([^/"]+)/remove"', portal.browser.get("/security").text)
    assert theirs
    portal.post("/signout", {}, form_page="/account")
    portal.auth.register("hana@example.com")
    portal.sign_in("hana@example.com", next_path="/security")

    removed = portal.post(f"/security/passkeys/{theirs.group(1)}/remove", {}, form_page="/security")

    assert removed.status_code == 404 and "This passkey is not on your account" in removed.text
    portal.post("/signout", {}, form_page="/account")
    portal.sign_in("ren@example.com", next_path="/security")
    assert f"/security/passkeys/{theirs.group(1)}/remove" in portal.browser.get("/security").text
