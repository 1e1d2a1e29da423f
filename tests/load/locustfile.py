"""Load on the portal: signed-in customers reading their pages through the gateway.

Each simulated customer registers an account of its own (the public ``register`` operation),
signs in once through the portal's own form (CSRF token read from the page, like a browser),
and then opens the pages a worried customer keeps reloading: the account overview, the message
centre, the order list and the case page. So that each has a case, it places (through orders'
public API, as the store's app would) a 100,000-yen gift-card order paid with a card in another
name, which orders holds and verification opens a payment-verification case for (story S3). Every request goes through the gateway, the portal and auth, as in production;
the portal exchanges the refresh token once per access-token lifetime, not per page.

Run against any deployment (see README, "Portal"):

    .venv/bin/locust -f tests/load/locustfile.py --headless --users 50 --spawn-rate 10 \
        --run-time 60s --host http://127.0.0.1:8000 --csv var/load/portal

``MAMORI_LOAD_PASSWORD`` sets the customers' password (a default strong one otherwise).
"""

from __future__ import annotations

import os
import re
import time
import uuid

from locust import HttpUser, between, task

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CASE_LINK = re.compile(r'href="(/cases/[A-Za-z0-9_-]+)"')
HELD_GIFT_CARD = {
    "lines": [{"kind": "gift_card", "description": "Gift card", "unit_amount": 100_000, "quantity": 1}],
    "tenders": [
        {
            "kind": "card",
            "amount": 100_000,
            "card": {"token": "tok_visa_4242", "last4": "4242", "expiry": "04/29", "holder_name": "Yuki Tanaka"},
        }
    ],
}
PASSWORD = os.environ.get("MAMORI_LOAD_PASSWORD", "steady-harbour-lantern-90")


class SignedInCustomer(HttpUser):
    """One customer with one browser: cookies (session, device, CSRF seed) kept between requests."""

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        address = f"load-{uuid.uuid4().hex[:12]}@example.com"
        registered = self.client.post(
            "/api/auth/accounts",
            json={"email": address, "password": PASSWORD, "name": "Load Customer", "language": "ja"},
            name="setup: register",
        )
        registered.raise_for_status()
        form = self.client.get("/signin", name="setup: sign-in page")
        token = CSRF.search(form.text)
        if token is None:
            raise RuntimeError("the sign-in page carries no CSRF token")
        with self.client.post(
            "/signin",
            data={"email": address, "password": PASSWORD, "next": "/account", "csrf_token": token.group(1)},
            name="setup: sign in",
            allow_redirects=False,
            catch_response=True,
        ) as answer:
            if answer.status_code != 303 or answer.headers.get("location") != "/account":
                answer.failure(f"sign-in answered {answer.status_code}")
                raise RuntimeError("could not sign in")
            answer.success()
        self.case_path: str | None = None
        # The store's app signs in from the same device (its id is the portal's device cookie), so auth
        # asks no step-up; it places the order that orders holds.
        login = self.client.post(
            "/api/auth/login",
            json={"email": address, "password": PASSWORD},
            headers={"x-device-id": self.client.cookies.get("mamori_device", "")},
            name="setup: API sign-in",
        )
        login.raise_for_status()
        held = self.client.post(
            "/api/orders/orders",
            json=HELD_GIFT_CARD,
            name="setup: held gift-card order",
            headers={"authorization": f"Bearer {login.json()['access_token']}"},
        )
        held.raise_for_status()

    def _page(self, path: str, must_contain: str) -> None:
        name = "/cases/[id]" if path.startswith("/cases/") else path
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True) as page:
            if page.status_code != 200 or must_contain not in page.text:
                page.failure(f"{path} answered {page.status_code}")

    @task(2)
    def account_overview(self) -> None:
        self._page("/account", "<h1>")

    @task(1)
    def message_centre(self) -> None:
        self._page("/messages", 'class="messages"')

    @task(1)
    def order_list(self) -> None:
        self._page("/orders", 'class="messages"')

    @task(2)
    def case_page(self) -> None:
        if self.case_path is None:  # the case arrives by event, a moment after the order
            listing = self.client.get("/cases", name="/cases")
            found = CASE_LINK.search(listing.text)
            if found is None:
                time.sleep(0.2)
                return
            self.case_path = found.group(1)
        self._page(self.case_path, 'id="checklist-h"')
