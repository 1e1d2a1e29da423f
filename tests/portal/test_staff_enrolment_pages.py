"""A staff account with no second factor sets up TOTP on the portal (issue 16, point 4): the right
password leads to the set-up page, never to a session; the enrolment token stays in an HttpOnly
cookie of that page's path, never in a URL or the HTML; once TOTP is on, the staff member signs in
again with password and code and reaches the queue."""

from __future__ import annotations

import re

import httpx
import pyotp

from portal.pages.staff_enrolment import ENROL_PAGE, unpack_enrolment
from portal.session import SESSION_COOKIE, STAFF_ENROLMENT_COOKIE
from services.auth.accounts.models import Role
from tests.portal.conftest import CasePortal, PortalHarness
from tests.support.auth_changes import make_staff

STAFF = "ken@staff.mamori.example"
SECRET_ON_PAGE = re.compile(r'<code class="secret">([A-Z2-7]+)</code>')


def enrolment_cookie(answer: httpx.Response) -> str:
    cookies = [value for value in answer.headers.get_list("set-cookie") if value.startswith(STAFF_ENROLMENT_COOKIE)]
    assert len(cookies) == 1, answer.headers.get_list("set-cookie")
    return cookies[0]


def signs_in_without_a_factor(portal: PortalHarness) -> str:
    """The staff member's password on the sign-in page: to the set-up page; auth's enrolment token."""
    make_staff(portal.auth, Role.specialist, STAFF)
    answer = portal.sign_in(STAFF)
    assert answer.status_code == 303 and answer.headers["location"] == ENROL_PAGE, answer.text
    cookie = enrolment_cookie(answer)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and f"Path={ENROL_PAGE}" in cookie
    assert SESSION_COOKIE not in portal.browser.cookies, "a password alone opens no staff session"
    enrolment = unpack_enrolment(portal.browser.cookies.get(STAFF_ENROLMENT_COOKIE))
    assert enrolment is not None
    return enrolment["token"]


def wrong_code_for(secret: str, now: object) -> str:
    right = int(pyotp.TOTP(secret).at(now))  # type: ignore[arg-type]
    return f"{(right + 500_000) % 1_000_000:06d}"


def test_a_staff_account_without_a_factor_enrols_on_the_portal_then_signs_in_with_it(
    case_portal: CasePortal,
) -> None:
    token = signs_in_without_a_factor(case_portal)
    clock = case_portal.auth.clock

    page = case_portal.browser.get(ENROL_PAGE)
    secret = SECRET_ON_PAGE.search(page.text)
    assert page.status_code == 200 and secret and "<svg" in page.text, page.text
    assert "Staff accounts sign in with their password and a code" in page.text
    assert "This set-up is open until" in page.text
    assert token not in page.text and token.split(".")[1] not in page.text, "the enrolment token is not in the page"
    assert case_portal.browser.get(ENROL_PAGE).text.count(secret.group(1)) == 1, "a reload shows the same key"

    wrong = case_portal.post(ENROL_PAGE, {"code": wrong_code_for(secret.group(1), clock.now())}, form_page=ENROL_PAGE)
    assert wrong.status_code == 422 and "This code is wrong or no longer valid." in wrong.text
    assert secret.group(1) in wrong.text and "<svg" in wrong.text, "the same set-up page, the same key"
    assert token not in wrong.text

    turned_on = case_portal.post(
        ENROL_PAGE, {"code": pyotp.TOTP(secret.group(1)).at(clock.now())}, form_page=ENROL_PAGE
    )
    assert turned_on.status_code == 200, turned_on.text
    assert "sign in again with your password and the code the app shows" in turned_on.text
    assert len(re.findall(r"<li><code>[^<]+</code></li>", turned_on.text)) == 10, "the recovery codes, once"
    assert (
        STAFF_ENROLMENT_COOKIE not in case_portal.browser.cookies and SESSION_COOKIE not in case_portal.browser.cookies
    )
    assert case_portal.browser.get(ENROL_PAGE, follow_redirects=False).headers["location"] == "/signin"

    clock.advance(seconds=60)  # the next TOTP step: the code that confirmed is spent
    asked = case_portal.sign_in(STAFF)
    assert asked.status_code == 303 and asked.headers["location"] == "/signin/check", asked.text
    code = pyotp.TOTP(secret.group(1)).at(clock.now())
    checked = case_portal.post("/signin/check", {"method": "totp", "code": code}, form_page="/signin/check")
    assert checked.status_code == 303, checked.text
    assert case_portal.browser.get("/account", follow_redirects=False).headers["location"] == "/staff"
    queue = case_portal.browser.get("/staff")
    assert queue.status_code == 200 and "Cases that wait for staff" in queue.text, queue.text


def test_an_expired_set_up_says_to_sign_in_again_in_japanese_and_english(portal: PortalHarness) -> None:
    signs_in_without_a_factor(portal)
    page = portal.browser.get(ENROL_PAGE)
    secret = SECRET_ON_PAGE.search(page.text)
    assert secret
    portal.auth.clock.advance(seconds=portal.auth.settings.email_code_seconds + 1)

    code = pyotp.TOTP(secret.group(1)).at(portal.auth.clock.now())
    expired = portal.post(ENROL_PAGE, {"code": code}, form_page=ENROL_PAGE, headers={"accept-language": "ja"})

    assert expired.status_code == 401, expired.text
    assert "認証アプリの設定は期限が切れたか" in expired.text and 'action="/signin"' in expired.text
    assert STAFF_ENROLMENT_COOKIE not in portal.browser.cookies
    again = portal.post(ENROL_PAGE, {"code": code}, form_page="/signin")
    assert again.status_code == 401 and "Sign in with your password again to start a new one." in again.text
