"""Helpers of the account-change, reset, staff and S5 tests: sessions and staff made directly, mails read as the recipient reads them."""

from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy import select

from services.auth.accounts.models import Account, Role
from services.auth.accounts.service import create_account
from services.auth.audit.models import SecurityEvent
from services.auth.database import outbox
from services.auth.messages.models import Message
from services.auth.request_context import RequestContext
from services.auth.sessions.service import TokenPair, start_session
from services.auth.staff.second_factor import enrol_totp_at_creation
from tests.auth.conftest import STRONG_PASSWORD, AuthHarness

OWNER = "hana@example.com"
NEW_ADDRESS = "hana.new@example.org"
REVERT_CODE = re.compile(r"\b[A-Z2-9]{4}(?:-[A-Z2-9]{4}){3}\b")
RESET_TOKEN = re.compile(r"^\s{4}([A-Za-z0-9_-]{40,})\s*$", re.MULTILINE)


# -- helpers ------------------------------------------------------------------------------------


def open_session(auth: AuthHarness, account_id: str, *, ip: str = "203.0.113.10") -> TokenPair:
    """A signed-in session made directly (as login would after a successful sign-in)."""
    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        assert account is not None
        pair = start_session(
            db,
            account,
            RequestContext(ip=ip),
            now=auth.clock.now(),
            key=auth.app.state.signing_key,
            settings=auth.app.state.settings,
        )
        db.commit()
    return pair


def make_staff(auth: AuthHarness, role: Role, email_address: str) -> tuple[str, str]:
    """A staff account (as the CLI makes them) and an access token of a session of it."""
    with auth.app.state.db.session() as db:
        account = create_account(
            db,
            auth.app.state.passwords,
            email=email_address,
            password=STRONG_PASSWORD,
            name=f"{role.value.title()} Staff",
            role=role,
        )
        db.commit()
        account_id = account.id
    return account_id, open_session(auth, account_id, ip="198.51.100.200").access_token


def make_staff_with_totp(auth: AuthHarness, role: Role, email_address: str) -> str:
    """A staff account as ``mamori staff create`` makes it, TOTP on from the start; its TOTP secret
    (staff sign in with the password and a code every time)."""
    with auth.app.state.db.session() as db:
        account = create_account(
            db,
            auth.app.state.passwords,
            email=email_address,
            password=STRONG_PASSWORD,
            name=f"{role.value.title()} Staff",
            role=role,
        )
        secret = enrol_totp_at_creation(account, auth.app.state.encryptor, now=auth.clock.now())
        db.commit()
    return secret


def load(auth: AuthHarness, model: Any, key: Any) -> Any:
    with auth.app.state.db.session() as db:
        return db.get(model, key)


def rows(auth: AuthHarness, query: Any) -> list[Any]:
    with auth.app.state.db.session() as db:
        return list(db.execute(query).scalars())


def messages_to(auth: AuthHarness, to: str, template: str) -> list[Message]:
    return rows(
        auth,
        select(Message).where(Message.recipient == to, Message.template == template).order_by(Message.created_at),
    )


def mail_body(auth: AuthHarness, to: str, template: str, index: int = -1) -> str:
    """The text of a mail as the recipient reads it.

    When the mail sender runs (``app.state.mailer``), from the ``.eml`` file it wrote, found by the
    message's reference code; before that, by decrypting the queued mail.
    """
    filed = messages_to(auth, to, template)
    assert filed, f"no {template} message to {to}"
    message = filed[index]
    if getattr(auth.app.state, "mailer", None) is None:
        assert message.mail_body_encrypted is not None
        return str(auth.app.state.encryptor.decrypt(message.mail_body_encrypted))
    deadline = time.monotonic() + 5
    while True:
        for mail in auth.mails(to):
            if mail.reference_code == message.reference_code:
                return mail.body
        assert time.monotonic() < deadline, f"{template} mail to {to} was never delivered"
        time.sleep(0.02)


def revert_code_in(body: str) -> str:
    found = REVERT_CODE.search(body)
    assert found, body
    return found.group(0)


def six_digit_code(body: str) -> str:
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)


def reset_token_in(body: str) -> str:
    found = RESET_TOKEN.search(body)
    assert found, body
    return found.group(1)


def events(auth: AuthHarness, account_id: str, kind: str) -> list[SecurityEvent]:
    return rows(
        auth,
        select(SecurityEvent)
        .where(SecurityEvent.account_id == account_id, SecurityEvent.kind == kind)
        .order_by(SecurityEvent.id),
    )


def outbox_events(auth: AuthHarness, event_type: str) -> list[dict[str, Any]]:
    with auth.app.state.db.session() as db:
        found = db.execute(
            select(outbox.c.event_id, outbox.c.subscriber, outbox.c.payload).where(outbox.c.event_type == event_type)
        ).all()
    return [{"event_id": e, "subscriber": s, "payload": p} for e, s, p in found]


def change_email(auth: AuthHarness, token: str, new: str = NEW_ADDRESS, ip: str = "203.0.113.10") -> Any:
    """changeEmail, then confirmEmailChange with the code read at the new address."""
    started = auth.call("POST", "/api/auth/email/change", token=token, ip=ip, json={"new_email": new})
    assert started.status_code == 202, started.text
    code = six_digit_code(mail_body(auth, new, "email_change_code"))
    return auth.call(
        "POST",
        "/api/auth/email/confirm",
        token=token,
        ip=ip,
        json={"challenge_id": started.json()["challenge_id"], "code": code},
    )


def me(auth: AuthHarness, token: str) -> Any:
    return auth.call("GET", "/api/auth/me", token=token)


# -- changeEmail / confirmEmailChange -----------------------------------------------------------
