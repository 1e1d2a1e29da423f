"""In-process auth service for tests: migrated SQLite in a temp data dir, a hand-moved clock.

``AuthHarness`` drives the service through its HTTP API the way a client would, and reads the
mails it sends from the ``.eml`` folder, as a customer reads their inbox.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from mamori_common.clock import ManualClock
from services.auth.config import AuthSettings
from services.auth.main import create_app

STRONG_PASSWORD = "plum-blossom-harbour-7"
_REGISTRATION_ADDRESSES = itertools.count()


@dataclass
class Mail:
    to: str
    subject: str
    body: str
    reference_code: str | None

    def code(self) -> str:
        """The six-digit code in a code mail."""
        found = re.search(r"\b(\d{6})\b", self.body)
        assert found, f"no code in mail: {self.body}"
        return found.group(1)


@dataclass
class AuthHarness:
    client: TestClient
    app: Any
    clock: ManualClock
    data_dir: Path
    settings: AuthSettings
    _seen: set[Path] = field(default_factory=set)
    #: The device token each device the test plays was last given (see :meth:`call`).
    device_tokens: dict[str, str] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        *,
        ip: str = "203.0.113.10",
        token: str | None = None,
        device: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """``device`` names a device the test plays: it presents the device token auth last gave
        it (kept from the sign-in answers), or, before it ever got one, the name itself as a
        made-up token (which auth must treat as no device at all)."""
        headers = dict(kwargs.pop("headers", {}) or {})
        headers["x-forwarded-for"] = ip
        if token:
            headers["authorization"] = f"Bearer {token}"
        if device:
            headers["x-device-token"] = self.device_tokens.get(device, device)
        response = self.client.request(method, path, headers=headers, **kwargs)
        if device and response.status_code == 200 and "json" in response.headers.get("content-type", ""):
            issued = response.json().get("device_token") if isinstance(response.json(), dict) else None
            if issued:
                self.device_tokens[device] = issued
        return response

    def register(
        self,
        email_address: str = "hana@example.com",
        password: str = STRONG_PASSWORD,
        name: str = "Hana Sato",
        language: str = "en",
        ip: str | None = None,
    ) -> str:
        """Register from ``ip``, by default an address of its own (registrations are a per-client
        quota, and the tests that register many accounts are not testing it)."""
        n = next(_REGISTRATION_ADDRESSES)
        response = self.call(
            "POST",
            "/api/auth/accounts",
            ip=ip or f"100.64.{n // 250}.{n % 250 + 1}",
            json={"email": email_address, "password": password, "name": name, "language": language},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["account_id"])

    def mails(self, to: str | None = None) -> list[Mail]:
        folder = self.data_dir / "mail"
        found = []
        for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""
            mail = Mail(str(message["To"]), str(message["Subject"]), text, message.get("X-Mamori-Reference"))
            if to is None or mail.to == to:
                found.append(mail)
        return found

    def wait_for_mail(self, to: str, count: int = 1, timeout: float = 5.0) -> Mail:
        """The newest mail to ``to`` once at least ``count`` have arrived (the mailer runs after commit)."""
        deadline = time.monotonic() + timeout
        while True:
            mails = self.mails(to)
            if len(mails) >= count:
                return mails[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} mail(s) to {to}, got {len(mails)}")
            time.sleep(0.02)


@pytest.fixture
def auth(data_dir: Path) -> Iterator[AuthHarness]:
    clock = ManualClock()
    settings = AuthSettings(data_dir=data_dir)
    app = create_app(settings, migrate=True, clock=clock)
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        yield AuthHarness(client=client, app=app, clock=clock, data_dir=data_dir, settings=settings)
