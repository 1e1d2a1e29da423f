"""The orders service in-process for tests: a test signing key for customer tokens, a recorded
account standing (auth's answer), a hand-moved clock, and readers for what orders published."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from mamori_common.clock import ManualClock
from mamori_common.contract import AccountStanding, StandingState
from mamori_common.tokens import AUDIENCE, ISSUER, AccessTokenVerifier
from services.orders.config import OrdersSettings
from services.orders.database import outbox
from services.orders.ledgers import service as ledgers
from services.orders.main import create_app
from services.orders.standing import RecordedStanding
from tests.support.service_keys import service_token

KID = "test-key"
CARD = {"token": "tok_visa_4242", "last4": "4242", "expiry": "04/29", "holder_name": "Hana Sato"}


@dataclass
class Customer:
    account_id: str
    session_id: str
    #: Mints a fresh access token on the harness clock (tests move the clock past a token's life).
    mint: Callable[..., str]
    #: The device auth recognised for this session (the token's ``device_id`` claim).
    device_id: str | None = None

    @property
    def token(self) -> str:
        return self.mint(self.account_id, self.session_id, device_id=self.device_id)

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        headers = {"authorization": f"Bearer {self.token}", **extra}
        if key:
            headers["Idempotency-Key"] = key
        return headers


@dataclass
class OrdersHarness:
    app: FastAPI
    client: TestClient
    clock: ManualClock
    standing: RecordedStanding
    private_key: Ed25519PrivateKey
    _customers: list[Customer] = field(default_factory=list)

    # -- who calls ------------------------------------------------------------------------------
    def token(self, account_id: str, session_id: str, role: str = "customer", device_id: str | None = None) -> str:
        now = int(self.clock.now().timestamp())
        claims: dict[str, object] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": account_id,
            "sid": session_id,
            "role": role,
            "iat": now,
            "exp": now + 600,
        }
        if device_id:
            claims["device_id"] = device_id
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": KID})

    def customer(
        self,
        name: str = "Hana Sato",
        state: StandingState = "active",
        session_id: str | None = None,
        account_id: str | None = None,
    ) -> Customer:
        account_id = account_id or uuid.uuid4().hex
        session_id = session_id or uuid.uuid4().hex
        self.standing.record(
            AccountStanding(
                account_id=account_id,
                state=state,
                can_order=state == "active",
                can_change_contact=state == "active",
                name=name,
            )
        )
        return Customer(account_id, session_id, self.token)

    def staff(self, role: str = "support") -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(uuid.uuid4().hex, uuid.uuid4().hex, role)}"}

    # -- money ----------------------------------------------------------------------------------
    def grant(self, account_id: str, ledger: str, amount: int) -> None:
        """Points or gift balance the customer earned before the test (a ledger credit)."""
        with self.app.state.db.session() as db, db.begin():
            ledgers.credit(db, account_id, ledger, amount, "test_grant", self.clock.now())

    def balance(self, account_id: str, ledger: str) -> int:
        with self.app.state.db.session() as db:
            return ledgers.balance(db, account_id, ledger)

    # -- calls ----------------------------------------------------------------------------------
    def place(
        self,
        customer: Customer,
        lines: list[dict[str, Any]],
        tenders: list[dict[str, Any]],
        key: str | None = None,
        **headers: str,
    ) -> Any:
        return self.client.post(
            "/api/orders/orders", json={"lines": lines, "tenders": tenders}, headers=customer.headers(key, **headers)
        )

    def event(self, event_type: str, payload: dict[str, Any], source: str = "auth", event_id: str | None = None) -> Any:
        token = service_token(self.app, source)
        envelope = {
            "id": event_id or uuid.uuid4().hex,
            "type": event_type,
            "source": source,
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": payload,
        }
        return self.client.post("/internal/events", json=envelope, headers={"authorization": f"Bearer {token}"})

    def published(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Payloads orders put in its outbox, oldest first (one per event, whoever subscribes)."""
        with self.app.state.db.session() as db:
            query = select(outbox.c.event_id, outbox.c.event_type, outbox.c.subscriber, outbox.c.payload)
            rows = db.execute(query.order_by(outbox.c.id)).all()
        seen: set[str] = set()
        found = []
        for row in rows:
            if row.event_id in seen or (event_type and row.event_type != event_type):
                continue
            seen.add(row.event_id)
            found.append({"type": row.event_type, "subscriber": row.subscriber, **row.payload})
        return found


def card_tender(amount: int, **card: str) -> dict[str, Any]:
    return {"kind": "card", "amount": amount, "card": {**CARD, **card}}


def line(kind: str, amount: int, description: str = "item", quantity: int = 1) -> dict[str, Any]:
    return {"kind": kind, "description": description, "unit_amount": amount, "quantity": quantity}


def build(
    settings: OrdersSettings, clock: ManualClock | None = None
) -> tuple[FastAPI, RecordedStanding, Ed25519PrivateKey, ManualClock]:
    clock = clock or ManualClock()
    app = create_app(settings, migrate=True, clock=clock, run_background=False)
    private_key = Ed25519PrivateKey.generate()
    public_key = private_key.public_key()

    def resolve(kid: str) -> Any:
        if kid != KID:
            raise KeyError(kid)
        return public_key

    app.state.token_verifier = AccessTokenVerifier(resolve, clock)
    standing = RecordedStanding()
    app.state.standing = standing
    return app, standing, private_key, clock
