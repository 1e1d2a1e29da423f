"""The portal's pages against a real auth service: sessions, CSRF, CSP, languages, sign-in answers,
the signed-out mail check, the security page. What a customer's browser would notice."""

from __future__ import annotations

import re

import pyotp

from portal.session import SESSION_COOKIE
from tests.auth.conftest import STRONG_PASSWORD
from tests.auth.messaging_support import file
from tests.portal.conftest import PortalHarness

PAGES = ("/", "/signin", "/unlock", "/not-me", "/reset", "/messages/check")


def signed_in(portal: PortalHarness, language: str = "en") -> str:
    address = f"hana-{language}@example.com"
    portal.auth.register(address, language=language)
    answer = portal.sign_in(address)
    assert answer.status_code == 303 and answer.headers["location"] == "/account", answer.text
    return address


def test_every_page_has_a_strict_policy_no_inline_script_or_style_and_is_not_cached(portal: PortalHarness) -> None:
    for path in PAGES:
        page = portal.browser.get(path)
        assert page.status_code == 200, path
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert page.headers["cache-control"] == "no-store"
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), f"inline script on {path}"
        assert " style=" not in page.text and "<style" not in page.text, f"inline style on {path}"
        for form in re.findall(r"<form.*?</form>", page.text, re.DOTALL):
            assert 'name="csrf_token"' in form, f"a form without a CSRF token on {path}"


def test_a_form_without_the_right_csrf_token_is_refused_and_signs_nobody_in(portal: PortalHarness) -> None:
    portal.auth.register("hana@example.com")
    portal.browser.get("/signin")

    forged = portal.browser.post(
        "/signin",
        data={"email": "hana@example.com", "password": STRONG_PASSWORD, "csrf_token": "0" * 64},
        follow_redirects=False,
    )

    assert forged.status_code == 403
    assert "This form has expired" in forged.text or "有効期限" in forged.text
    assert SESSION_COOKIE not in portal.browser.cookies


def test_the_browser_holds_only_the_refresh_token_in_an_httponly_lax_cookie(portal: PortalHarness) -> None:
    portal.auth.register("hana@example.com")

    answer = portal.sign_in("hana@example.com")

    session_cookie = next(
        value for value in answer.headers.get_list("set-cookie") if value.startswith(SESSION_COOKIE + "=")
    )
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie and "Path=/" in session_cookie
    assert "Secure" not in session_cookie  # plain HTTP in local development; https turns it on
    assert "token" not in answer.headers["location"]
    account = portal.browser.get("/account")
    assert account.status_code == 200 and "Hana Sato" in account.text
    assert not any(name == "mamori_access" for name in portal.browser.cookies)
    assert "eyJ" not in account.text  # no JWT in the page


def test_cookies_are_secure_when_the_portal_is_reached_over_https(portal: PortalHarness) -> None:
    page = portal.browser.get("/signin", headers={"x-forwarded-proto": "https"})

    assert all("Secure" in cookie for cookie in page.headers.get_list("set-cookie"))


def test_language_follows_accept_language_then_the_switch(portal: PortalHarness) -> None:
    english = portal.browser.get("/", headers={"accept-language": "en-GB,en;q=0.9"})
    assert 'lang="en"' in english.text and "Sign in" in english.text
    default = portal.browser.get("/", headers={"accept-language": "fr"})
    assert 'lang="ja"' in default.text and "サインイン" in default.text

    switched = portal.browser.get("/language/ja?next=/signin", follow_redirects=False)
    assert switched.headers["location"] == "/signin"
    japanese = portal.browser.get("/signin", headers={"accept-language": "en"})
    assert 'lang="ja"' in japanese.text and japanese.headers["content-language"] == "ja"


def test_the_language_switch_never_redirects_off_the_site(portal: PortalHarness) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        answer = portal.browser.get("/language/en", params={"next": target}, follow_redirects=False)
        assert answer.headers["location"] == "/"


def test_a_signed_out_visitor_goes_to_sign_in_and_comes_back(portal: PortalHarness) -> None:
    portal.auth.register("hana@example.com")

    asked = portal.browser.get("/security", follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"] == "/signin?next=/security"
    answer = portal.sign_in("hana@example.com", next_path="/security")

    assert answer.headers["location"] == "/security"


def test_a_wrong_password_is_said_plainly_and_a_throttled_client_is_told_how_long_to_wait(
    portal: PortalHarness,
) -> None:
    portal.auth.register("hana@example.com")
    wrong = portal.sign_in("hana@example.com", "not-her-password")
    assert wrong.status_code == 401 and "The e-mail address or the password is wrong." in wrong.text

    for _ in range(30):
        answer = portal.sign_in("hana@example.com", "still-not-her-password")
        if answer.status_code == 429:
            break
    assert answer.status_code == 429
    wait = re.search(r"Please try again in (\d+) min\., at (\d{1,2}:\d{2}\s?[AP]?M?) \(([^)]+)\)", answer.text)
    assert wait and int(wait.group(1)) > 0, answer.text  # minutes and a time of day in the zone, not seconds
    assert "seconds" not in answer.text


def test_sign_out_ends_the_session_at_auth(portal: PortalHarness) -> None:
    signed_in(portal)
    refresh_token = portal.browser.cookies[SESSION_COOKIE]

    answer = portal.post("/signout", {}, form_page="/account")

    assert answer.status_code == 303
    assert SESSION_COOKIE not in portal.browser.cookies
    refused = portal.auth.call("POST", "/api/auth/tokens/refresh", json={"refresh_token": refresh_token})
    assert refused.status_code == 401
    assert portal.browser.get("/account", follow_redirects=False).status_code == 303


def test_pages_loaded_together_share_one_token_exchange_and_stay_signed_in(portal: PortalHarness) -> None:
    signed_in(portal)
    first_cookie = portal.browser.cookies[SESSION_COOKIE]

    for path in ("/account", "/messages", "/security", "/security/sessions", "/security/events"):
        assert portal.browser.get(path).status_code == 200, path

    assert portal.browser.cookies[SESSION_COOKIE] == first_cookie  # no rotation while the access token lives
    sessions = portal.browser.get("/security/sessions")
    assert sessions.text.count("<tr>") == 2  # the header and this one session


def test_check_a_mail_signed_out_says_only_that_the_code_is_ours(portal: PortalHarness) -> None:
    hana = portal.auth.register("hana@example.com")
    reference = file(portal.auth.app, hana, "account_locked", {"until": "12:00", "case_id": "c"})

    genuine = portal.post(
        "/messages/check", {"reference_code": reference}, form_page="/messages/check", headers={"accept-language": "en"}
    )
    forged = portal.post(
        "/messages/check",
        {"reference_code": "MMR-ABCDE-FGHJK"},
        form_page="/messages/check",
        headers={"accept-language": "en"},
    )

    assert genuine.status_code == 200 and "We sent a message with this reference code." in genuine.text
    assert "Genuine" not in genuine.text and "compare the mail" in genuine.text
    assert "temporarily locked" not in genuine.text and "hana@example.com" not in genuine.text
    assert "Not from us." in forged.text


def test_check_a_mail_flags_a_phishing_mail_with_a_real_code_in_japanese(portal: PortalHarness) -> None:
    hana = portal.auth.register("hana@example.com")
    reference = file(portal.auth.app, hana, "account_locked", {"until": "12:00", "case_id": "c"})
    phishing = (
        "From: Mamori <support@mamori-help.example>\n\nアカウントがロックされました。"
        f"https://mamori-help.example/login からサインインしてください。\n参照コード: {reference}"
    )

    page = portal.post(
        "/messages/check", {"text": phishing}, form_page="/messages/check", headers={"accept-language": "ja"}
    )

    assert page.status_code == 200
    assert "本物です" not in page.text
    assert "不審なメールです" in page.text and "mamori-help.example" in page.text
    assert "当社のものではないアドレス" in page.text


def test_the_message_centre_shows_reference_codes_and_times_in_tokyo(portal: PortalHarness) -> None:
    hana = portal.auth.register("hana@example.com", language="ja", name="佐藤花")
    reference = file(portal.auth.app, hana, "account_locked", {"until": "12:00", "case_id": "c"})
    portal.sign_in("hana@example.com")

    page = portal.browser.get("/messages", headers={"accept-language": "ja"})

    assert page.status_code == 200 and "メッセージセンター" in page.text
    assert reference in page.text and "アカウントを一時的にロックしました" in page.text
    assert "日本標準時" in page.text and "UTC" not in page.text.replace("Asia/Tokyo", "")


def test_totp_enrolment_shows_a_qr_code_and_gives_recovery_codes(portal: PortalHarness) -> None:
    signed_in(portal)

    enrolment = portal.post("/security/totp", {}, form_page="/security")
    assert enrolment.status_code == 200 and "<svg" in enrolment.text
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', enrolment.text)
    assert secret
    confirmed = portal.post(
        "/security/totp/confirm",
        {"code": pyotp.TOTP(secret.group(1)).at(portal.auth.clock.now())},
        form_page="/security",
    )

    codes = re.findall(r"<li><code>([^<]+)</code></li>", confirmed.text)
    assert confirmed.status_code == 200 and len(codes) == 10
    assert "On: signing in from a new device" in portal.browser.get("/security").text


def test_a_stale_sign_in_is_asked_to_sign_in_again_before_a_password_change(portal: PortalHarness) -> None:
    signed_in(portal)
    portal.auth.clock.advance(minutes=11)

    answer = portal.post(
        "/security/password",
        {"current_password": STRONG_PASSWORD, "new_password": "another-quiet-river-42"},
        form_page="/security",
    )

    assert answer.status_code == 401 and "Sign in again to make this change" in answer.text
    # The password did not change: it still signs in (from the browser's address, which auth knows:
    # a client naming no device elsewhere would be asked for a step-up, as a new device).
    assert (
        portal.auth.call(
            "POST",
            "/api/auth/login",
            ip="127.0.0.1",
            json={"email": "hana-en@example.com", "password": STRONG_PASSWORD},
        ).status_code
        == 200
    )


def test_unknown_pages_and_bad_query_values_are_pages_not_errors(portal: PortalHarness) -> None:
    page = {"accept": "text/html,application/xhtml+xml;q=0.9"}
    missing = portal.browser.get("/no-such-page", headers=page)
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    for path in ("/no-such-page", "/api/no-such-thing"):  # an API client gets the problem document
        problem = portal.browser.get(path, headers={"accept": "application/json"})
        assert problem.status_code == 404 and problem.json()["code"] == "not_found"
    signed_in(portal)
    bad = portal.browser.get("/messages", params={"cursor": "x" * 300}, headers=page)
    assert bad.status_code == 400 and "text/html" in bad.headers["content-type"]


def test_an_oversized_form_is_refused_before_it_is_read(portal: PortalHarness) -> None:
    huge = portal.post("/messages/check", {"text": "x" * 300_000}, form_page="/messages/check")

    assert huge.status_code == 413 and "text/html" in huge.headers["content-type"]


def test_a_remembered_access_token_auth_refuses_is_exchanged_again_without_signing_out(
    portal: PortalHarness,
) -> None:
    signed_in(portal)
    portal.auth.clock.advance(minutes=11)  # auth now judges the remembered access token expired

    listing = portal.browser.get("/messages", follow_redirects=False)
    assert listing.status_code == 303 and listing.headers["location"] == "/messages"
    assert portal.browser.get("/messages").status_code == 200
    assert portal.browser.get("/account").status_code == 200
