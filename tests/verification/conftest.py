"""In-process verification service for tests: migrated SQLite, a hand-moved clock, signed tokens.

Access tokens are signed with a key the test holds (the service is given its public half, as it
would fetch it from auth's JWKS); events arrive at ``/internal/events`` with a service token,
exactly as auth's or orders' dispatcher delivers them.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mamori_common.clock import ManualClock
from mamori_common.tokens import AUDIENCE, ISSUER, AccessTokenVerifier
from services.auth.tokens.keys import SigningKey
from services.verification.config import VerificationSettings
from services.verification.database import outbox
from services.verification.main import create_app
from tests.support.service_keys import service_token


@dataclass
class VerificationHarness:
    client: TestClient
    app: Any
    clock: ManualClock
    key: SigningKey
    data_dir: Path

    def token(self, account_id: str, role: str = "customer", session_id: str | None = None) -> str:
        now = int(self.clock.now().timestamp())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": account_id,
            "sid": session_id or uuid.uuid4().hex,
            "role": role,
            "auth_time": now,
            "iat": now,
            "exp": now + 600,
        }
        return jwt.encode(claims, self.key.private_key, algorithm="EdDSA", headers={"kid": self.key.kid})

    def as_user(self, account_id: str, role: str = "customer", session_id: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(account_id, role, session_id)}"}

    def publish(
        self, event_type: str, payload: dict[str, Any], source: str = "auth", event_id: str | None = None
    ) -> Any:
        token = service_token(self.app, source)
        envelope = {
            "id": event_id or uuid.uuid4().hex,
            "type": event_type,
            "source": source,
            "occurred_at": self.clock.now().isoformat(),
            "payload": payload,
        }
        response = self.client.post("/internal/events", json=envelope, headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        return response.json()

    def sent(self, event_type: str | None = None, subscriber: str | None = None) -> list[dict[str, Any]]:
        """Payloads of the events verification queued, oldest first."""
        query = select(outbox.c.event_type, outbox.c.subscriber, outbox.c.payload).order_by(outbox.c.id)
        with self.app.state.db.session() as db:
            rows = db.execute(query).all()
        return [
            row.payload
            for row in rows
            if (event_type is None or row.event_type == event_type)
            and (subscriber is None or row.subscriber == subscriber)
        ]

    def notices(self, account_id: str) -> list[dict[str, Any]]:
        return [payload["data"] for payload in self.sent("notify") if payload["account_id"] == account_id]

    def cases(self, account_id: str) -> list[dict[str, Any]]:
        response = self.client.get("/api/verification/cases", headers=self.as_user(account_id))
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def case(self, account_id: str, case_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/verification/cases/{case_id}", headers=self.as_user(account_id))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def upload(
        self,
        account_id: str,
        case_id: str,
        content: bytes,
        filename: str = "statement.pdf",
        content_type: str = "application/pdf",
    ) -> Any:
        return self.client.post(
            f"/api/verification/cases/{case_id}/documents",
            headers=self.as_user(account_id),
            files={"file": (filename, content, content_type)},
        )

    def hold_payment(
        self,
        account_id: str,
        *,
        order_id: str | None = None,
        amount: int = 100_000,
        card_last4: str = "4242",
        holder_name: str = "Yuki Tanaka",
    ) -> str:
        """orders' ``payment.held``; returns the payment-verification case id."""
        self.publish(
            "payment.held",
            {
                "order_id": order_id or uuid.uuid4().hex,
                "account_id": account_id,
                "amount": amount,
                "currency": "JPY",
                "card_last4": card_last4,
                "holder_name": holder_name,
                "reasons": ["gift_card", "amount"],
            },
            source="orders",
        )
        return next(case["id"] for case in self.cases(account_id) if case["kind"] == "payment_verification")


def harness_for(data_dir: Path, clock: ManualClock | None = None, **settings: Any) -> VerificationHarness:
    """A migrated app and a client that is not started yet (enter ``harness.client`` to run it).

    Pass another harness's ``clock`` when tokens of both are checked against one clock: two clocks
    started seconds apart on a busy machine make one side's tokens look issued in the future.
    """
    clock = clock or ManualClock()
    key = SigningKey.load_or_create(data_dir / "test-signing.pem")
    app = create_app(
        VerificationSettings(data_dir=data_dir, **settings), migrate=True, clock=clock, run_background=False
    )
    app.state.token_verifier = AccessTokenVerifier(key.resolve, clock)
    client = TestClient(app, client=("127.0.0.1", 50000))
    return VerificationHarness(client=client, app=app, clock=clock, key=key, data_dir=data_dir)


def make_harness(data_dir: Path, **settings: Any) -> Iterator[VerificationHarness]:
    harness = harness_for(data_dir, **settings)
    with harness.client:
        yield harness


@pytest.fixture
def verification(data_dir: Path) -> Iterator[VerificationHarness]:
    yield from make_harness(data_dir)


@pytest.fixture
def masking_verification(data_dir: Path) -> Iterator[VerificationHarness]:
    yield from make_harness(data_dir, mask_images_instead_of_refusing=True)


def tesseract_with_japanese() -> bool:
    """Whether Debian's Tesseract is installed here with its Japanese data (tests of that engine need it)."""
    if shutil.which("tesseract") is None:
        return False
    listed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, check=False)
    return "jpn" in listed.stdout.split()


#: Every OCR engine: RapidOCR always (pip installs it, models included), Tesseract where installed.
OCR_ENGINES = [
    "rapidocr",
    pytest.param(
        "tesseract",
        marks=pytest.mark.skipif(not tesseract_with_japanese(), reason="Debian's tesseract-ocr-jpn is not installed"),
    ),
]


@pytest.fixture(params=OCR_ENGINES)
def each_engine(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[VerificationHarness]:
    """The service with each OCR engine in turn (``MAMORI_OCR_ENGINE``)."""
    yield from make_harness(data_dir, ocr_engine=request.param)
