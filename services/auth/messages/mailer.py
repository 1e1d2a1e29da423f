"""The mail sender: delivers every filed message by SMTP, or as ``.eml`` files when no SMTP is set.

It runs as a background job inside every replica. A replica claims queued mail with a lease (the
kit's :func:`mamori_common.leases.claim_batch`, which the event dispatcher uses too), so replicas never send the same mail at once and a crashed replica's mail is
taken over when its lease runs out. A failed delivery waits with capped, jittered exponential
backoff (the outbox's :class:`BackoffPolicy`). After a delivery the mail's encrypted text, which may
hold a one-time code, is deleted: the message centre keeps only the masked copy.

The transaction that files a message wakes the sender when it commits (see
``service._wake_mailer_after_commit``), so a security notice leaves within moments; the poll is
only the safety net.

Delivery is at least once: a replica that dies between handing a mail to SMTP and recording it
sends that mail again after the lease. Recording each mail right after its delivery keeps that
window small.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import anyio
from cryptography.fernet import InvalidToken
from fastapi import FastAPI
from sqlalchemy import or_, update

from mamori_common.background import Doorbell
from mamori_common.clock import Clock
from mamori_common.db import Database, utcnow
from mamori_common.events import BackoffPolicy
from mamori_common.leases import claim_batch
from services.auth.config import AuthSettings
from services.auth.credentials.encryption import Encryptor
from services.auth.messages.models import Message
from services.auth.messages.service import MAIL_WAKE_KEY, MESSAGE_SERVICES_KEY, MessageServices

logger = logging.getLogger("mamori.auth.mailer")

#: Longest delivery error kept on a message (operators read it; it never holds mail text).
_MAX_ERROR_CHARS = 500


# --- where mail goes --------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpTarget:
    """An SMTP relay, parsed from ``MAMORI_SMTP_URL``.

    ``smtp://user:pass@host:587?starttls=1`` (STARTTLS required), ``smtps://host:465`` (TLS from
    the first byte), ``smtp://host:25`` (STARTTLS if offered, ``starttls=0`` never). With a user
    name and no ``starttls`` given, STARTTLS is required: credentials never cross in clear text.
    """

    hostname: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool | None = None

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("MAMORI_SMTP_URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("MAMORI_SMTP_URL names no host")
        query = {key.lower(): values[-1] for key, values in parse_qs(parts.query).items()}
        use_tls = parts.scheme == "smtps"
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        start_tls: bool | None = None
        if "starttls" in query:
            start_tls = query["starttls"].lower() in ("1", "true", "yes", "on")
        elif username and not use_tls:
            start_tls = True
        if use_tls:
            start_tls = False
        default_port = 465 if use_tls else (587 if start_tls else 25)
        return cls(parts.hostname, parts.port or default_port, username, password, use_tls, start_tls)


class MailTransport(Protocol):
    async def send(self, mail: EmailMessage, *, sender: str, recipient: str, reference_code: str) -> None: ...

    def scrub(self, text: str) -> str: ...


@dataclass
class SmtpTransport:
    target: SmtpTarget
    timeout_seconds: float

    async def send(self, mail: EmailMessage, *, sender: str, recipient: str, reference_code: str) -> None:
        await aiosmtplib.send(
            mail,
            sender=sender,
            recipients=[recipient],
            hostname=self.target.hostname,
            port=self.target.port,
            username=self.target.username,
            password=self.target.password,
            use_tls=self.target.use_tls,
            start_tls=self.target.start_tls,
            timeout=self.timeout_seconds,
        )

    def scrub(self, text: str) -> str:
        """Keep the relay's credentials out of a stored error."""
        for secret in (self.target.password, self.target.username):
            if secret:
                text = text.replace(secret, "***")
        return text


@dataclass
class FolderTransport:
    """The embedded default: one ``<UTC time>-<reference code>.eml`` file a mail.

    Files are named by the real time of writing (not the app clock, which tests freeze), so the
    folder sorts in delivery order; each is written under a temporary name and renamed, so a reader
    never sees half a mail.
    """

    folder: Path
    _last_stamp: datetime | None = None

    def _stamp(self) -> str:
        now = utcnow()
        if self._last_stamp is not None and now <= self._last_stamp:
            now = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = now
        return now.strftime("%Y%m%dT%H%M%S%fZ")

    async def send(self, mail: EmailMessage, *, sender: str, recipient: str, reference_code: str) -> None:
        name = f"{self._stamp()}-{reference_code}.eml"
        await anyio.to_thread.run_sync(self._write, name, mail.as_bytes())

    def _write(self, name: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{name}.{uuid.uuid4().hex[:8]}.part"
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.folder / name)

    def scrub(self, text: str) -> str:
        return text


# --- the mail itself --------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingMail:
    message_id: str
    reference_code: str
    recipient: str
    subject: str
    #: The text to send; None when the stored text cannot be decrypted (the key changed).
    body: str | None
    attempts: int


def build_mail(item: OutgoingMail, body: str, *, mail_from: str, now: datetime) -> EmailMessage:
    """An RFC 5322 mail, UTF-8 plain text, carrying its reference code in a header too."""
    mail = EmailMessage()
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "mamori.example"
    mail["From"] = mail_from
    mail["To"] = item.recipient
    mail["Subject"] = item.subject
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = make_msgid(idstring=item.reference_code, domain=domain)
    mail["X-Mamori-Reference"] = item.reference_code
    mail.set_content(body, subtype="plain", charset="utf-8")
    return mail


# --- the sender -------------------------------------------------------------------------------


@dataclass
class MailSender:
    """Delivers queued mail; safe to run in every replica at once."""

    database: Database
    encryptor: Encryptor
    clock: Clock
    transport: MailTransport
    mail_from: str
    poll_interval: float = 1.0
    batch_size: int = 20
    lease_seconds: float = 120.0
    max_attempts: int = 30
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    _doorbell: Doorbell = field(default_factory=Doorbell)

    @classmethod
    def for_settings(cls, settings: AuthSettings, database: Database, encryptor: Encryptor, clock: Clock) -> MailSender:
        transport: MailTransport
        if settings.smtp_url:
            transport = SmtpTransport(SmtpTarget.parse(settings.smtp_url), settings.smtp_timeout_seconds)
        else:
            transport = FolderTransport(settings.data_dir / "mail")
        return cls(
            database=database,
            encryptor=encryptor,
            clock=clock,
            transport=transport,
            mail_from=settings.mail_from,
            poll_interval=settings.mail_poll_interval_seconds,
            batch_size=settings.mail_batch_size,
            lease_seconds=settings.mail_lease_seconds,
            max_attempts=settings.mail_max_attempts,
            backoff=BackoffPolicy(settings.mail_retry_base_seconds, settings.mail_retry_max_seconds),
        )

    @property
    def running(self) -> bool:
        return self._doorbell.listening

    def wake(self) -> None:
        """Look for mail now (callable from any thread, e.g. a request's after-commit hook).

        Before the sender runs this does nothing: its first pass delivers everything queued anyway.
        """
        self._doorbell.ring()

    async def run_forever(self) -> None:
        self._doorbell.listen()
        try:
            while True:
                try:
                    handled = await self.send_once()
                except Exception:  # the database may be briefly unreachable; keep going
                    logger.exception("mail sender failed")
                    handled = 0
                if handled < self.batch_size:
                    await self._doorbell.wait(self.poll_interval)
        finally:
            self._doorbell.close()

    async def send_once(self) -> int:
        """Claim a batch of due mail, deliver each, record each outcome; return how many were tried."""
        claim_token = uuid.uuid4().hex
        claimed = await anyio.to_thread.run_sync(self._claim, claim_token)
        for item in claimed:
            error = await self._deliver(item)
            await anyio.to_thread.run_sync(self._record, claim_token, item, error)
        return len(claimed)

    def _due(self, now: datetime) -> tuple[Any, ...]:
        return (
            Message.mailed_at.is_(None),
            Message.mail_attempts < self.max_attempts,
            or_(Message.mail_next_try_at.is_(None), Message.mail_next_try_at <= now),
        )

    def _claim(self, claim_token: str) -> list[OutgoingMail]:
        now = self.clock.now()
        due = self._due(now)
        rows = claim_batch(
            self.database,
            Message,
            key=Message.id,
            due=due,
            order_by=(Message.queued_at,),
            batch_size=self.batch_size,
            lease={"mail_next_try_at": now + timedelta(seconds=self.lease_seconds), "mail_claim_token": claim_token},
            returning=(
                Message.id,
                Message.reference_code,
                Message.recipient,
                Message.subject,
                Message.body,
                Message.mail_body_encrypted,
                Message.mail_attempts,
                Message.queued_at,
            ),
        )
        rows.sort(key=lambda row: row.queued_at)
        return [
            OutgoingMail(
                row.id, row.reference_code, row.recipient, row.subject, self._plaintext(row), row.mail_attempts
            )
            for row in rows
        ]

    def _plaintext(self, row: Any) -> str | None:
        if row.mail_body_encrypted is None:
            return str(row.body)
        try:
            return self.encryptor.decrypt(row.mail_body_encrypted)
        except InvalidToken:
            return None

    async def _deliver(self, item: OutgoingMail) -> str | None:
        """None when the mail left, else why it did not (never the mail's text)."""
        if item.body is None:
            return "the stored mail text cannot be decrypted with the current encryption key"
        mail = build_mail(item, item.body, mail_from=self.mail_from, now=self.clock.now())
        sender = parseaddr(self.mail_from)[1]
        try:
            await self.transport.send(mail, sender=sender, recipient=item.recipient, reference_code=item.reference_code)
        except Exception as exc:  # any transport failure is retried; the reason is kept for operators
            return self.transport.scrub(f"{type(exc).__name__}: {exc}")[:_MAX_ERROR_CHARS]
        return None

    def _record(self, claim_token: str, item: OutgoingMail, error: str | None) -> None:
        now = self.clock.now()
        values: dict[str, Any]
        if error is None:
            values = {
                "mailed_at": now,
                "mail_body_encrypted": None,
                "mail_error": None,
                "mail_next_try_at": None,
                "mail_claim_token": None,
            }
        else:
            attempts = item.attempts + 1
            values = {"mail_attempts": attempts, "mail_error": error, "mail_claim_token": None}
            if attempts >= self.max_attempts:
                # Never mailed: its one-time code must not wait in the database for nothing.
                values.update(mail_body_encrypted=None, mail_next_try_at=None)
                values["mail_error"] = f"gave up after {attempts} attempts; last: {error}"[:_MAX_ERROR_CHARS]
                logger.error("mail not delivered, gave up", extra={"reference_code": item.reference_code})
            else:
                values["mail_next_try_at"] = now + timedelta(seconds=self.backoff.delay(attempts))
                logger.warning(
                    "mail delivery failed",
                    extra={"reference_code": item.reference_code, "attempts": attempts, "error": error},
                )
        mine = (Message.id == item.message_id) & (Message.mail_claim_token == claim_token)
        with self.database.session() as session, session.begin():
            session.execute(update(Message).where(mine).values(**values).execution_options(synchronize_session=False))


def install(app: FastAPI) -> MailSender:
    """Wire the message centre into ``app``: its mail sender, and what sessions need to file messages.

    Every session of the app's database then carries the sender's wake-up call (so filing a message
    wakes it on commit) and the encryptor and clock (so event handlers, which get only a session,
    can file messages).
    """
    settings: AuthSettings = app.state.settings
    database: Database = app.state.db
    sender = MailSender.for_settings(settings, database, app.state.encryptor, app.state.clock)
    app.state.mailer = sender
    info = dict(database.sessions.kw.get("info") or {})
    info[MAIL_WAKE_KEY] = sender.wake
    info[MESSAGE_SERVICES_KEY] = MessageServices(encryptor=app.state.encryptor, clock=app.state.clock)
    database.sessions.configure(info=info)
    return sender


def mail_sender_job(app: FastAPI) -> Coroutine[Any, Any, None]:
    """The background job (``SPEC.background_jobs``); :func:`install` ran in the app factory."""
    return app.state.mailer.run_forever()
