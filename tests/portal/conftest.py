"""The portal in-process, calling a real in-process auth service, driven like a browser.

Auth runs in its own TestClient (its own event loop, migrated SQLite, hand-moved clock, .eml
mail); the portal's HTTP client reaches it through :class:`ThreadedTransport`. The portal's
TestClient keeps cookies like a browser, so sessions, CSRF seeds and device ids behave as they do
through the gateway.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient

from mamori_common.contract import AccountStanding
from mamori_common.tokens import AccessTokenVerifier
from portal.config import PortalSettings
from portal.main import create_app
from services.orders.config import OrdersSettings
from tests.auth.conftest import STRONG_PASSWORD, AuthHarness, auth  # noqa: F401 - the auth fixture, reused
from tests.orders.harness import OrdersHarness, build
from tests.portal.browser import CHROMIUM_ARGS, LOCK_AFTER, Mailbox, chromium_path
from tests.support.processes import MamoriRun
from tests.verification.conftest import VerificationHarness, harness_for

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class ThreadedTransport(httpx.AsyncBaseTransport):
    """The portal's async calls, handed to a service's TestClient in a worker thread."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        headers = {name: value for name, value in request.headers.items() if name not in ("host", "content-length")}

        def send() -> httpx.Response:
            return self.client.request(request.method, str(request.url), headers=headers, content=body)

        answer = await anyio.to_thread.run_sync(send)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


@dataclass
class PortalHarness:
    browser: TestClient
    auth: AuthHarness

    def csrf(self, path: str = "/signin") -> str:
        page = self.browser.get(path)
        found = _CSRF.search(page.text)
        assert found, f"no CSRF field on {path}"
        return found.group(1)

    def post(self, path: str, data: dict[str, Any], form_page: str = "/signin", **kwargs: Any) -> httpx.Response:
        return self.browser.post(
            path, data={**data, "csrf_token": self.csrf(form_page)}, follow_redirects=False, **kwargs
        )

    def sign_in(self, email: str, password: str = STRONG_PASSWORD, next_path: str = "/account") -> httpx.Response:
        return self.post("/signin", {"email": email, "password": password, "next": next_path})


@pytest.fixture
def portal(auth: AuthHarness, data_dir: Path) -> Iterator[PortalHarness]:
    app = create_app(PortalSettings(data_dir=data_dir), transports={"auth": ThreadedTransport(auth.client)})
    with TestClient(
        app, base_url="http://portal.test", client=("127.0.0.1", 50001), headers={"accept-language": "en"}
    ) as browser:
        yield PortalHarness(browser, auth)


@dataclass
class CasePortal(PortalHarness):
    """The portal with auth, verification and orders in-process; both trust auth's tokens."""

    verification: VerificationHarness
    orders: OrdersHarness

    def customer(self, email_address: str) -> str:
        """A registered, signed-in customer in good standing (as orders hears it); their account id."""
        account_id = self.auth.register(email_address)
        self.orders.standing.record(
            AccountStanding(
                account_id=account_id, state="active", can_order=True, can_change_contact=True, name="Hana Sato"
            )
        )
        answer = self.sign_in(email_address)
        assert answer.status_code == 303, answer.text
        return account_id

    def place(self, account_id: str, lines: list[dict[str, Any]], tenders: list[dict[str, Any]]) -> dict[str, Any]:
        """An order placed through orders' API with a token auth signed (as the store would)."""
        answer = self.orders.client.post(
            "/api/orders/orders",
            json={"lines": lines, "tenders": tenders},
            headers=self.verification.as_user(account_id),
        )
        assert answer.status_code in (201, 202), answer.text  # 202: waits for a confirmation (1-Click off)
        return dict(answer.json())


@pytest.fixture
def case_portal(auth: AuthHarness, data_dir: Path) -> Iterator[CasePortal]:
    verification = harness_for(data_dir / "verification", clock=auth.clock)
    verification.key = auth.app.state.signing_key  # the harness's own calls sign as auth does
    verification.app.state.token_verifier = AccessTokenVerifier(auth.app.state.signing_key.resolve, auth.clock)
    (data_dir / "orders").mkdir()
    orders_app, standing, orders_key, orders_clock = build(OrdersSettings(data_dir=data_dir / "orders"))
    orders_app.state.token_verifier = AccessTokenVerifier(auth.app.state.signing_key.resolve, auth.clock)
    with verification.client, TestClient(orders_app) as orders_client:
        orders = OrdersHarness(orders_app, orders_client, orders_clock, standing, orders_key)
        transports = {
            "auth": ThreadedTransport(auth.client),
            "verification": ThreadedTransport(verification.client),
            "orders": ThreadedTransport(orders_client),
        }
        app = create_app(PortalSettings(data_dir=data_dir), transports=transports)
        with TestClient(
            app, base_url="http://portal.test", client=("127.0.0.1", 50001), headers={"accept-language": "en"}
        ) as browser:
            yield CasePortal(browser, auth, verification, orders)


# --- the real suite and a headless Chromium, shared by every browser test -------------------------


@pytest.fixture(scope="module")
def playwright_browser() -> Iterator[Any]:
    executable = chromium_path()
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser journeys need Playwright for Python")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, playwright_browser: Any) -> Iterator[MamoriRun]:
    run = MamoriRun(
        tmp_path_factory.mktemp("portal-browser") / "var",
        args=["--no-demo"],
        env={"MAMORI_LOCK_AFTER_FAILED_STEP_UPS": LOCK_AFTER},
    )
    try:
        yield run.start()
    finally:
        run.close()


@pytest.fixture(scope="module")
def mailbox(suite: MamoriRun) -> Mailbox:
    return Mailbox(suite.data_dir)
