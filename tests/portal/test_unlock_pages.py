"""The unlock page when no new code will be mailed (issue 16, point 5): it says so, says that a
code already mailed still works and for how long, when a new one can be asked (minutes and a time
of day in the customer's zone, never seconds) and that the lock ends by itself; it keeps the code
form, and that code does unlock. A throttle of the connection still says what it is."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.portal.conftest import PortalHarness
from tests.support.auth_sessions import set_account

OWNER = "hana@example.com"
NEW_PASSWORD = "lantern-over-still-water-31"


def locked_owner(portal: PortalHarness, language: str = "en") -> None:
    account_id = portal.auth.register(OWNER, language=language)
    set_account(portal.auth, account_id, locked_until=portal.auth.clock.now() + timedelta(minutes=30))


def ask_for_codes_until_refused(portal: PortalHarness, language: str = "en") -> str:
    """Ask for unlock codes until auth mails no more; the refusal page."""
    headers = {"accept-language": language}
    for _ in range(portal.auth.settings.email_codes_per_client_per_hour):
        asked = portal.post("/unlock/code", {"email": OWNER}, form_page="/unlock", headers=headers)
        assert asked.status_code == 200, asked.text
    refused = portal.post("/unlock/code", {"email": OWNER}, form_page="/unlock", headers=headers)
    assert refused.status_code == 429, refused.text
    return refused.text


def test_when_no_new_code_will_be_mailed_the_page_says_what_still_works_and_until_when(
    portal: PortalHarness,
) -> None:
    locked_owner(portal)

    page = ask_for_codes_until_refused(portal)

    assert "No new code will be mailed for now" in page
    assert "Too many attempts from this connection" not in page
    assert "we mailed it a code" not in page, "the page does not say a code was sent when none was"
    minutes = portal.auth.settings.email_code_seconds // 60
    assert f"A code we already mailed still works for {minutes} minutes after it was sent" in page
    wait = re.search(r"You can ask for a new code in (\d+) min\., at (\d{1,2}:\d{2}\s?[AP]?M?) \(([^)]+)\)", page)
    assert wait and int(wait.group(1)) > 0 and wait.group(3) == "Japan Standard Time", page
    assert "second" not in page
    assert "The lock also ends by itself" in page
    assert 'action="/unlock"' in page and "Mail me a new code" not in page

    code = portal.auth.wait_for_mail(OWNER, count=3).code()  # a code already mailed
    unlocked = portal.post("/unlock", {"email": OWNER, "code": code, "new_password": NEW_PASSWORD}, form_page="/unlock")
    assert unlocked.status_code == 303, unlocked.text
    assert portal.sign_in(OWNER, NEW_PASSWORD).status_code == 303


def test_the_no_new_code_page_in_japanese(portal: PortalHarness) -> None:
    locked_owner(portal, language="ja")

    page = ask_for_codes_until_refused(portal, language="ja")

    assert "しばらく新しいコードはお送りしません" in page
    assert "この接続からの試行が多すぎます" not in page
    assert re.search(r"すでにお送りしたコードは、送信から \d+ 分間は使えます", page)
    assert re.search(r"新しいコードは \d+ 分後（[^）]+）から求められます", page)
    assert "自動で解除されます" in page and "秒" not in page


def test_a_throttled_connection_is_still_told_it_is_the_connection(portal: PortalHarness) -> None:
    for n in range(portal.auth.settings.unlock_requests_per_ip_per_hour):
        asked = portal.post("/unlock/code", {"email": f"someone-{n}@example.com"}, form_page="/unlock")
        assert asked.status_code == 200, asked.text

    refused = portal.post("/unlock/code", {"email": OWNER}, form_page="/unlock")

    assert refused.status_code == 429
    assert "Too many attempts from this connection." in refused.text
    assert "No new code will be mailed" not in refused.text
    assert re.search(r"Please try again in \d+ min\., at ", refused.text)
