"""Headless Chromium for the portal's journeys: Debian's ``chromium`` driven by Playwright.

Playwright's own browser builds are never downloaded: ``executable_path`` points at the system
Chromium (installed by ``.ci/run``). Without it, or without Playwright, the journeys are skipped
with a message saying what is missing; they are never passed.

Every page a journey reaches is checked with axe-core (from the ``axe-playwright-python``
package, which ships ``axe.min.js``: no CDN): no serious or critical violation. The last page of
each journey is saved as a screenshot under ``tests/artifacts/screenshots/``.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from mamori_common.db import Database
from tests.support.processes import MamoriRun

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
BLOCKING_IMPACTS = ("serious", "critical")


def chromium_path() -> str:
    """The system Chromium, or a skip that says what is missing."""
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if found:
        return found
    pytest.skip("browser journeys need Debian's chromium (apt-get install chromium fonts-noto-cjk, as .ci/run does)")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def assert_accessible(page: Any) -> None:
    violations = axe_violations(page)
    summary = [(v["id"], v["impact"], [node["target"] for node in v["nodes"]][:3]) for v in violations]
    assert not violations, f"axe-core on {page.url}: {summary}"


def save_screenshot(page: Any, name: str) -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


class Mailbox:
    """The .eml files ``mamori run`` writes under ``<data dir>/mail/``, read as a customer reads mail."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / "mail"

    def mails(self, to: str) -> list[Mail]:
        found = []
        for path in sorted(self.folder.glob("*.eml")) if self.folder.exists() else []:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            if str(message["To"]) == to:
                found.append(Mail(to, str(message["Subject"]), body.get_content() if body is not None else ""))
        return found

    def wait_for(self, to: str, pattern: str, count_before: int = 0, timeout: float = 15.0) -> re.Match[str]:
        """The first match of ``pattern`` in a mail to ``to`` that arrived after ``count_before`` mails."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for mail in self.mails(to)[count_before:]:
                match = re.search(pattern, mail.body)
                if match:
                    return match
            time.sleep(0.2)
        raise AssertionError(f"no mail to {to} matching {pattern!r}; got {[m.subject for m in self.mails(to)]}")


PASSWORD = "maple-lantern-harbour-58"
NEW_PASSWORD = "cedar-river-morning-73"
#: Two wrong step-up answers lock the account here, so the journey reaches the lock quickly.
LOCK_AFTER = "2"
WINDOWS = {"ja": {"width": 360, "height": 780}, "en": {"width": 1100, "height": 800}}
LOCALES = {"ja": "ja-JP", "en": "en-GB"}


def register(suite: MamoriRun, language: str, story: str) -> str:
    address = f"{story}-{language}-{uuid.uuid4().hex[:8]}@example.com"
    body = {
        "email": address,
        "password": PASSWORD,
        "name": "Sato Hana" if language == "en" else "佐藤花",
        "language": language,
    }
    response = httpx.post(f"{suite.gateway_url}/api/auth/accounts", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return address


@contextlib.contextmanager
def device(browser: Any, language: str) -> Iterator[Any]:
    """A browser profile of its own: to auth, a device it has or has not seen."""
    context = browser.new_context(locale=LOCALES[language], viewport=WINDOWS[language])
    try:
        yield context.new_page()
    finally:
        context.close()


def submit(page: Any, action: str) -> None:
    page.locator(f"main form[action='{action}'] button[type=submit]").first.click()
    page.wait_for_load_state()


def sign_in(page: Any, suite: MamoriRun, address: str, password: str) -> None:
    page.goto(f"{suite.gateway_url}/signin")
    assert_accessible(page)
    page.fill("#f-email", address)
    page.fill("#f-password", password)
    submit(page, "/signin")


def api_sign_in(suite: MamoriRun, address: str, password: str = PASSWORD) -> str:
    """An access token, as the store's own app gets one (the first device auth sees for this account).

    Earlier journeys on this suite fail step-ups from the same address on purpose (S1), so auth may
    ask this client to wait a few seconds: it waits as told, like any well-behaved app."""
    for _ in range(5):
        response = httpx.post(
            f"{suite.gateway_url}/api/auth/login", json={"email": address, "password": password}, timeout=30
        )
        if response.status_code != 429:
            break
        time.sleep(int(response.headers.get("retry-after", "1")))
    assert response.status_code == 200 and "access_token" in response.json(), response.text
    return str(response.json()["access_token"])


def make_staff(suite: MamoriRun, role: str) -> tuple[str, str]:
    """A staff account made as an operator makes one (``mamori staff create``); its e-mail and the
    TOTP secret the command printed (staff sign in with it every time)."""
    address = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.cli",
            "staff",
            "create",
            "--email",
            address,
            "--password",
            PASSWORD,
            "--role",
            role,
        ],
        env=suite.env,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
        capture_output=True,
        timeout=60,
        text=True,
    )
    secret = re.search(r"secret: ([A-Z2-7]+)", created.stdout)
    assert secret, created.stdout
    return address, secret.group(1)


def sign_in_with_totp(page: Any, suite: MamoriRun, address: str, secret: str, password: str = PASSWORD) -> None:
    """A staff sign-in: the password, then the authenticator app's code."""
    sign_in(page, suite, address, password)
    assert page.url.endswith("/signin/check"), page.url
    page.fill("#c-totp", pyotp.TOTP(secret).now())
    page.press("#c-totp", "Enter")
    page.wait_for_load_state()


def sign_in_with_mailed_code(
    page: Any, suite: MamoriRun, mailbox: Mailbox, address: str, password: str = PASSWORD
) -> None:
    """Sign in on a device auth has not seen: the step-up code comes from the mailbox."""
    mails_before = len(mailbox.mails(address))
    sign_in(page, suite, address, password)
    if page.url.endswith("/signin/check"):
        code = mailbox.wait_for(address, r"\b(\d{6})\b", mails_before).group(1)
        page.fill("#c-email_code", code)
        submit(page, "/signin/check")


def grant_in_orders(suite: MamoriRun, account_id: str, ledger: str, amount: int) -> None:
    """Points or gift balance the customer had before the story (a ledger credit in orders' database:
    the store's loyalty programme, which the suite has no API for)."""
    from services.orders.config import OrdersSettings
    from services.orders.ledgers import service as ledgers

    database = Database(OrdersSettings(data_dir=suite.data_dir).resolved_database_url())
    try:
        with database.session() as db, db.begin():
            ledgers.credit(db, account_id, ledger, amount, "earned_before_the_story", datetime.now(UTC))
    finally:
        database.dispose()


def reload_until(page: Any, url: str, selector: str, timeout: float = 45.0) -> None:
    """Reload ``url`` until ``selector`` shows: what arrives by event (a case, a lifted restriction)
    shows up a moment after the step that caused it, as a customer pressing reload would see.
    Fails, saying what never showed, once ``timeout`` passes (a busy machine is slow, not wrong)."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        if page.locator(selector).count():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector!r} never showed at {url} within {timeout:g} s")
        time.sleep(0.2)
