"""Helpers of the message-centre tests: customers and sessions made directly (no password hashing),
messages filed the way every domain files them, and ``notify`` events posted as another service would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from services.auth.accounts.models import Account, Language
from services.auth.messages.models import Message
from services.auth.messages.service import file_message
from services.auth.request_context import RequestContext
from services.auth.sessions.service import start_session
from tests.support.service_keys import service_token


def make_customer(app: Any, email: str, *, language: str = "en", name: str = "Hana Sato") -> str:
    """An account straight in the database (its password does not matter to these tests)."""
    with app.state.db.session() as db:
        account = Account(email=email, name=name, language=Language(language), password_hash=None)
        db.add(account)
        db.commit()
        return account.id


def sign_in(app: Any, account_id: str, ip: str = "203.0.113.10") -> str:
    """An access token of a fresh session, as a completed login would give."""
    with app.state.db.session() as db:
        account = db.get(Account, account_id)
        assert account is not None
        pair = start_session(
            db,
            account,
            RequestContext(ip=ip),
            now=app.state.clock.now(),
            key=app.state.signing_key,
            settings=app.state.settings,
        )
        db.commit()
        return pair.access_token


def file(app: Any, account_id: str, template: str, data: dict[str, Any], **options: Any) -> str:
    """File a message the way the other domains do; return its reference code."""
    with app.state.db.session() as db:
        account = db.get(Account, account_id)
        assert account is not None
        message = file_message(
            db, account, template, data, encryptor=app.state.encryptor, now=app.state.clock.now(), **options
        )
        db.commit()
        return message.reference_code


def message(app: Any, reference_code: str) -> Message:
    with app.state.db.session() as db:
        found = db.execute(select(Message).where(Message.reference_code == reference_code)).scalar_one()
        db.expunge(found)
        return found


def notice(subject: str = "Your order was cancelled", body: str = "We cancelled order 1234.") -> dict[str, str]:
    return {"subject_ja": f"【注意】{subject}", "subject_en": subject, "body_ja": f"{body}（日本語）", "body_en": body}


def notify_envelope(
    account_id: str,
    *,
    event_id: str | None = None,
    source: str = "orders",
    template: str | None = "notice",
    data: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if payload is None:
        payload = {"account_id": account_id, "data": data if data is not None else notice()}
        if template is not None:
            payload["template"] = template
    return {
        "id": event_id or uuid.uuid4().hex,
        "type": "notify",
        "source": source,
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": payload,
    }


def deliver_event(client: Any, app: Any, envelope: dict[str, Any], *, caller: str | None = None) -> Any:
    """POST an event to auth's inbox with a service token, as the outbox dispatcher does."""
    token = service_token(app, caller or envelope["source"])
    return client.post("/internal/events", json=envelope, headers={"authorization": f"Bearer {token}"})
