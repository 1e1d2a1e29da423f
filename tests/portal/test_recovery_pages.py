"""S5 through the portal's pages, in-process: an intruder changes the e-mail, the owner reverts it
signed out, waits out the cool-down, resets the password, signs in and ticks off the re-check list."""

from __future__ import annotations

import re
import time

from tests.auth.conftest import STRONG_PASSWORD, Mail
from tests.portal.conftest import PortalHarness

NEW_PASSWORD = "lantern-over-still-water-31"


def indented_code(body: str) -> str:
    """The code a mail sets on a line of its own, indented (revert and reset codes)."""
    found = re.search(r"\n {4}(\S+)\s*\n", body + "\n")
    assert found, body
    return found.group(1)


def mail_with_subject(portal: PortalHarness, to: str, subject: str) -> Mail:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [mail for mail in portal.auth.mails(to) if mail.subject == subject]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no mail {subject!r} to {to}")


def test_the_owner_recovers_from_an_intruders_email_change_and_rechecks(portal: PortalHarness) -> None:
    portal.auth.register("hana@example.com")
    portal.sign_in("hana@example.com")  # the intruder, with her password
    started = portal.post("/security/email", {"new_email": "elsewhere@example.net"}, form_page="/security")
    challenge = re.search(r'name="challenge_id" value="([^"]+)"', started.text)
    assert started.status_code == 200 and challenge
    code = portal.auth.wait_for_mail("elsewhere@example.net").code()
    changed = portal.post(
        "/security/email/confirm", {"challenge_id": challenge.group(1), "code": code}, form_page="/security"
    )
    assert changed.headers["location"] == "/security?notice=email_changed"
    portal.browser.cookies.clear()  # the owner, on her own device, signed out

    notice = mail_with_subject(portal, "hana@example.com", "Your account's e-mail address was changed")
    reverted = portal.post("/not-me", {"code": indented_code(notice.body)}, form_page="/not-me")
    assert reverted.status_code == 200
    assert "The change was undone and your account is frozen" in reverted.text
    assert re.search(r'class="case-number">C-[0-9A-Z]{4}-[0-9A-Z]{4}<', reverted.text)
    assert "Japan Standard Time" in reverted.text
    again = portal.post("/not-me", {"code": indented_code(notice.body)}, form_page="/not-me")
    assert again.status_code == 410 and "already used" in again.text

    portal.auth.clock.advance(hours=5, minutes=1)  # the reset cool-down after a freeze
    asked = portal.post("/reset", {"email": "hana@example.com"}, form_page="/reset")
    assert asked.status_code == 200
    reset_mail = mail_with_subject(portal, "hana@example.com", "Your password reset code")
    done = portal.post(
        "/reset/confirm", {"code": indented_code(reset_mail.body), "new_password": NEW_PASSWORD}, form_page="/reset"
    )
    assert done.status_code == 200 and "Your new password is set" in done.text

    assert portal.sign_in("hana@example.com", STRONG_PASSWORD).status_code == 401
    # The reset just proved the mailbox from this very browser, the one factor this account has:
    # the owner signs straight in (signin/factors.py), with no second code mailed to the same box.
    assert portal.sign_in("hana@example.com", NEW_PASSWORD).headers["location"] == "/account"
    account = portal.browser.get("/account")
    assert "Please re-check after the recovery" in account.text
    items = re.findall(r'name="item" value="([a-z_]+)"', account.text)
    assert set(items) == {"payment_methods", "addresses", "subscriptions"}

    portal.post("/security/recheck", {"item": items}, form_page="/account")

    assert "Please re-check after the recovery" not in portal.browser.get("/account").text


def test_the_sign_in_notices_code_protects_the_account_from_the_not_me_page_in_japanese(
    portal: PortalHarness,
) -> None:
    portal.auth.register("hana@example.com", language="ja")
    home = portal.auth.call(
        "POST", "/api/auth/login", ip="133.242.0.1", json={"email": "hana@example.com", "password": STRONG_PASSWORD}
    )
    assert home.status_code == 200, home.text
    abroad = portal.auth.call(
        "POST", "/api/auth/login", ip="8.8.8.8", json={"email": "hana@example.com", "password": STRONG_PASSWORD}
    )
    code = portal.auth.wait_for_mail("hana@example.com").code()
    passed = portal.auth.call(
        "POST",
        "/api/auth/challenges/complete",
        ip="8.8.8.8",
        json={"challenge_id": abroad.json()["challenge_id"], "method": "email_code", "code": code},
    )
    assert passed.status_code == 200, passed.text
    notice = mail_with_subject(portal, "hana@example.com", "新しい場所からのサインイン")
    assert "身に覚えがない変更" in notice.body

    page = portal.post(
        "/not-me", {"code": indented_code(notice.body)}, form_page="/not-me", headers={"accept-language": "ja"}
    )

    assert page.status_code == 200, page.text
    assert "新しい場所からのサインインとそのセッション" in page.text
    assert "そのセッションからのご注文は保留" in page.text
