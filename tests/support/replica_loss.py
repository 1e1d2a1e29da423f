"""Every cross-service flow, driven through the edge of a 2-replica ``mamori run``, timed.

Used by ``tests/test_replica_loss.py`` (one replica of every service killed, each flow must
still complete) and ``tests/bench/replica_loss.py`` (the seconds each flow takes, with and
without the loss). The flows are the ones that cross services:

- ``placeOrder`` with the standing check (orders asks auth);
- a held payment opening a case (orders' ``payment.held`` to verification) and restricting the
  account (verification's ``case.opened`` to auth: the next order is refused);
- a staff freeze cancelling the orders of the frozen sessions (auth's ``session.compromised`` to
  orders).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from mamori_common.db import normalise_url
from tests.support.processes import ChildProcess
from tests.test_system import operations, sign_in

PASSWORD = "quiet-harbour-lantern-58"
NAME = "Sora Aoki"
CARD = {"token": "tok_visa_4242", "last4": "4242", "expiry": "04/29", "holder_name": NAME}
FLOW_TIMEOUT_SECONDS = 60.0


def first_replicas(children: list[ChildProcess]) -> dict[str, ChildProcess]:
    """Each service's replica 0: the one ``MAMORI_<SERVICE>_URL`` names (read from a child's
    environment), which every internal call used to go to."""
    environ = Path(f"/proc/{children[0].pid}/environ").read_bytes().decode(errors="replace").split("\0")
    settings = dict(item.split("=", 1) for item in environ if "=" in item)
    found = {}
    for child in children:
        if settings.get(f"MAMORI_{child.name.upper()}_URL") == child.url:
            found[child.name] = child
    return found


@dataclass
class FlowTimes:
    """Seconds each flow took from the request that starts it to its last effect."""

    seconds: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def _until(check: Callable[[], Any], timeout: float = FLOW_TIMEOUT_SECONDS) -> float:
    """Seconds until ``check`` is truthy; raises TimeoutError after ``timeout``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError
        time.sleep(0.1)
    return time.monotonic() - started


class Flows:
    """The flows, for fresh customers, through the edge at ``gateway_url``."""

    def __init__(
        self, gateway_url: str, orders_database_url: str, admin: tuple[str, str], admin_totp_secret: str
    ) -> None:
        self.gateway = httpx.Client(base_url=gateway_url, timeout=30)
        self.paths = operations(self.gateway.get("/openapi.json").json())
        self.orders_db = create_engine(normalise_url(orders_database_url))
        self.admin = admin
        #: Staff sign in with TOTP every time (the secret ``mamori run`` prints).
        self.admin_totp_secret = admin_totp_secret

    def close(self) -> None:
        self.gateway.close()
        self.orders_db.dispose()

    def call(self, operation: str, token: str | None = None, args: dict[str, str] | None = None, **kw: Any) -> Any:
        method, path = self.paths[operation]
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return self.gateway.request(method, path.format(**(args or {})), headers=headers, **kw)

    def customer(self) -> str:
        """A new customer's access token."""
        email = f"replicas-{uuid.uuid4().hex[:10]}@example.com"
        registered = self.call("register", json={"email": email, "password": PASSWORD, "name": NAME})
        assert registered.status_code == 201, registered.text
        signed_in = self.call("login", json={"email": email, "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        return str(signed_in.json()["access_token"])

    def place(self, token: str, kind: str, amount: int) -> httpx.Response:
        line = {"kind": kind, "description": f"{kind} for the replica test", "unit_amount": amount}
        return self.call(
            "placeOrder", token, json={"lines": [line], "tenders": [{"kind": "card", "amount": amount, "card": CARD}]}
        )

    def order_state(self, order_id: str) -> str:
        with self.orders_db.connect() as connection:
            return str(connection.execute(text("SELECT state FROM orders WHERE id = :id"), {"id": order_id}).scalar())

    def run(self, customers: list[str]) -> FlowTimes:
        """Every flow once per prepared customer (tokens from :meth:`customer`, made beforehand)."""
        times = FlowTimes()
        ordering, held, freezing = customers[0:4], customers[4], customers[5]

        # placeOrder with standing, four times in a row: round robin reaches every replica.
        worst = 0.0
        for index, token in enumerate(ordering):
            started = time.monotonic()
            placed = self.place(token, "physical", 500)
            worst = max(worst, time.monotonic() - started)
            if placed.status_code != 201:
                times.failures[f"placeOrder #{index + 1}"] = f"{placed.status_code} {placed.text[:200]}"
        times.seconds["placeOrder with standing (slowest of 4)"] = worst

        # A held payment opens a case, and the case restricts the account.
        started = time.monotonic()
        gift = self.place(held, "gift_card", 100_000)
        if gift.status_code != 201 or gift.json()["state"] != "held":
            times.failures["held payment"] = f"{gift.status_code} {gift.text[:200]}"
        else:
            try:
                _until(lambda: self.call("listCases", held).json()["items"])
                times.seconds["held payment -> case opened"] = time.monotonic() - started
                _until(lambda: self.place(held, "physical", 500).status_code == 403)
                times.seconds["held payment -> account restricted"] = time.monotonic() - started
            except TimeoutError:
                times.failures["held payment"] = f"no case or restriction after {FLOW_TIMEOUT_SECONDS:.0f}s"

        # A freeze cancels the orders placed from the frozen sessions.
        order = self.place(freezing, "physical", 500)
        me = self.call("getMe", freezing).json()
        staff = sign_in(self.gateway, self.paths, self.admin[0], self.admin[1], self.admin_totp_secret)
        started = time.monotonic()
        frozen = self.call(
            "freezeAccount", staff, {"account_id": me["account_id"]}, json={"reason": "replica loss drill"}
        )
        if order.status_code != 201 or frozen.status_code != 200:
            times.failures["freeze"] = f"order {order.status_code}, freeze {frozen.status_code} {frozen.text[:200]}"
        else:
            try:
                _until(lambda: self.order_state(order.json()["id"]) == "cancelled")
                times.seconds["freeze -> order cancelled"] = time.monotonic() - started
            except TimeoutError:
                times.failures["freeze"] = f"order not cancelled after {FLOW_TIMEOUT_SECONDS:.0f}s"
        return times
