"""The mail sender: .eml files by default, SMTP when configured, retries, claims, wake-up on commit."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mamori_common.clock import ManualClock
from services.auth.config import AuthSettings
from services.auth.main import create_app
from services.auth.messages.mailer import MailSender, SmtpTarget, install
from services.auth.messages.models import Message
from services.auth.messages.templates import TEMPLATES, render
from tests.auth.conftest import AuthHarness
from tests.auth.messaging_support import deliver_event, file, make_customer, message, notify_envelope


def wait_until(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@contextmanager
def running_app(data_dir: Path, **settings: Any) -> Iterator[tuple[TestClient, Any, ManualClock]]:
    clock = ManualClock()
    app = create_app(AuthSettings(data_dir=data_dir, **settings), migrate=True, clock=clock)
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        yield client, app, clock


def eml_files(data_dir: Path) -> list[Path]:
    folder = data_dir / "mail"
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def plain_text(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None, "the mail has no plain-text part"
    return str(body.get_content())


# --- .eml files (the embedded default) ---------------------------------------------------------


def test_mail_is_an_eml_file_with_its_reference_code_in_english(auth: AuthHarness) -> None:
    account = make_customer(auth.app, "hana@example.com", language="en")
    reference = file(auth.app, account, "login_code", {"code": "482913", "minutes": 10})

    mail = auth.wait_for_mail("hana@example.com")

    assert mail.reference_code == reference
    assert mail.subject == "Your sign-in code"
    assert mail.code() == "482913"
    assert f"Reference code: {reference}" in mail.body
    [path] = eml_files(auth.data_dir)
    assert path.name.endswith(f"-{reference}.eml")
    raw = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert raw["From"] == auth.settings.mail_from
    assert raw["Message-ID"] and raw["Date"]
    assert raw.get_content_type() == "text/plain" and raw.get_content_charset() == "utf-8"


def test_mail_is_in_japanese_for_a_japanese_account(auth: AuthHarness) -> None:
    account = make_customer(auth.app, "taro@example.jp", language="ja", name="山田太郎")
    reference = file(auth.app, account, "login_code", {"code": "771204", "minutes": 10})

    mail = auth.wait_for_mail("taro@example.jp")

    assert mail.subject == "サインイン確認コード"
    assert "山田太郎 様" in mail.body
    assert f"参照コード: {reference}" in mail.body
    assert mail.code() == "771204"


def test_the_centre_masks_the_code_the_mail_carries_and_the_database_forgets_it(data_dir: Path) -> None:
    # No background sender: the test decides when the mail leaves (no race with the wake-up).
    app = create_app(AuthSettings(data_dir=data_dir), migrate=True, clock=ManualClock(), run_background=False)
    sender = install(app)
    account = make_customer(app, "hana@example.com")
    reference = file(app, account, "login_code", {"code": "639150", "minutes": 10})
    assert message(app, reference).mail_body_encrypted is not None  # queued: kept, encrypted

    asyncio.run(sender.send_once())

    [path] = eml_files(data_dir)
    assert "639150" in plain_text(email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
    stored = message(app, reference)
    assert stored.mailed_at is not None and stored.mail_body_encrypted is None
    assert "639150" not in stored.body and "••••••" in stored.body
    assert "639150" not in str(stored.data)
    app.state.db.dispose()


def test_no_template_and_no_mail_carries_a_link(auth: AuthHarness) -> None:
    for name, texts in TEMPLATES.items():
        for language in texts:
            fields: dict[str, object] = {}
            while True:  # fill every placeholder, whatever the template asks for
                try:
                    subject, body = render(name, language, fields, "MMR-ABCDE-FGHJK")
                    break
                except KeyError as missing:
                    fields[missing.args[0]] = "x"
            assert "http" not in (subject + body).lower(), (name, language)
            assert "www." not in body
    account = make_customer(auth.app, "hana@example.com")
    file(auth.app, account, "login_code", {"code": "123456", "minutes": 10})
    file(auth.app, account, "account_locked", {"until": "12:00", "case_id": "c1"})
    auth.wait_for_mail("hana@example.com", count=2)
    for path in eml_files(auth.data_dir):
        assert b"http" not in path.read_bytes().lower()


def test_a_filed_message_wakes_the_sender_at_once_not_at_the_next_poll(data_dir: Path) -> None:
    with running_app(data_dir, mail_poll_interval_seconds=60) as (client, app, _clock):
        account = make_customer(app, "hana@example.com")
        wait_until(lambda: app.state.mailer.running, what="the sender to start")
        time.sleep(0.1)  # it has looked once and now sleeps for a minute

        started = time.monotonic()
        response = deliver_event(client, app, notify_envelope(account))
        assert response.status_code == 200, response.text
        wait_until(lambda: eml_files(data_dir), timeout=3, what="the mail")

        assert time.monotonic() - started < 3


# --- SMTP --------------------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that keeps every mail it accepts."""

    def __init__(self) -> None:
        self.mails: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.mails.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(port: int, login: tuple[str, str] | None = None) -> Iterator[Inbox]:
    """An SMTP server on loopback; with ``login``, it demands that user name and password."""
    inbox = Inbox()
    options: dict[str, Any] = {}
    if login is not None:

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok)

        options = {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def test_mail_goes_by_smtp_when_an_smtp_url_is_set(data_dir: Path) -> None:
    port = free_port()
    with smtp_server(port) as inbox, running_app(data_dir, smtp_url=f"smtp://127.0.0.1:{port}") as (_, app, _c):
        account = make_customer(app, "hana@example.com", language="ja")
        reference = file(app, account, "unlock_code", {"code": "305517", "minutes": 10})

        wait_until(lambda: inbox.mails, what="the SMTP server to receive the mail")

        [(recipients, mail)] = inbox.mails
        assert recipients == ["hana@example.com"]
        assert mail["X-Mamori-Reference"] == reference
        assert mail["Subject"] == "アカウントのロック解除コード"
        assert "305517" in plain_text(mail)
        stored = wait_until(lambda: (m := message(app, reference)).mailed_at and m, what="mailed_at")
        assert stored.mail_body_encrypted is None
        assert eml_files(data_dir) == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_mail_waits_while_smtp_is_down_and_leaves_when_it_is_back(data_dir: Path) -> None:
    port = free_port()  # nothing listens here yet
    url = f"smtp://mamori:s3cret-pass@127.0.0.1:{port}?starttls=0"
    with running_app(
        data_dir, smtp_url=url, smtp_timeout_seconds=2, mail_retry_base_seconds=30, mail_retry_max_seconds=60
    ) as (_, app, clock):
        account = make_customer(app, "hana@example.com")
        reference = file(app, account, "login_code", {"code": "918273", "minutes": 10})

        failed = wait_until(lambda: (m := message(app, reference)).mail_attempts >= 1 and m, what="a failed try")
        assert failed.mailed_at is None
        assert failed.mail_error and "s3cret-pass" not in failed.mail_error and "918273" not in failed.mail_error
        assert failed.mail_body_encrypted is not None  # still queued, so still kept (encrypted)

        with smtp_server(port, login=("mamori", "s3cret-pass")) as inbox:
            time.sleep(0.3)
            assert inbox.mails == []  # it backs off rather than hammering the relay
            clock.advance(seconds=61)
            app.state.mailer.wake()
            wait_until(lambda: inbox.mails, what="the mail after the server came back")
            [(_, mail)] = inbox.mails
            assert mail["X-Mamori-Reference"] == reference
            stored = wait_until(lambda: (m := message(app, reference)).mailed_at and m, what="mailed_at")
        assert stored.mail_error is None and stored.mail_body_encrypted is None
        assert stored.mail_attempts == 1


def test_smtp_url_is_parsed_with_safe_defaults() -> None:
    target = SmtpTarget.parse("smtp://mailer:p%40ss@mail.example:2525?starttls=1")
    assert (target.hostname, target.port, target.username, target.password) == ("mail.example", 2525, "mailer", "p@ss")
    assert target.start_tls is True and target.use_tls is False
    assert SmtpTarget.parse("smtp://u:p@mail.example").start_tls is True  # credentials never in clear
    assert SmtpTarget.parse("smtp://u:p@mail.example").port == 587
    assert SmtpTarget.parse("smtp://relay.internal").start_tls is None  # STARTTLS if offered
    assert SmtpTarget.parse("smtp://relay.internal").port == 25
    implicit = SmtpTarget.parse("smtps://mail.example")
    assert (implicit.use_tls, implicit.start_tls, implicit.port) == (True, False, 465)
    with pytest.raises(ValueError):
        SmtpTarget.parse("http://mail.example")


# --- several replicas --------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.lock = threading.Lock()

    async def send(self, mail: EmailMessage, *, sender: str, recipient: str, reference_code: str) -> None:
        await asyncio.sleep(0.001)
        with self.lock:
            self.sent.append(reference_code)

    def scrub(self, text: str) -> str:
        return text


def replicas(app: Any, transport: Recorder, count: int) -> list[MailSender]:
    return [
        MailSender(
            app.state.db, app.state.encryptor, app.state.clock, transport, "Mamori <m@mamori.example>", batch_size=7
        )
        for _ in range(count)
    ]


def _replicas_send_each_mail_once(settings: AuthSettings) -> None:
    app = create_app(settings, migrate=True, clock=ManualClock(), run_background=False)
    install(app)
    account = make_customer(app, "hana@example.com")
    references = {file(app, account, "account_locked", {"until": "12:00", "case_id": f"c{i}"}) for i in range(40)}
    transport = Recorder()

    async def drain(sender: MailSender) -> None:
        while await sender.send_once():
            continue

    async def all_replicas() -> None:
        await asyncio.gather(*(drain(sender) for sender in replicas(app, transport, 4)))

    asyncio.run(all_replicas())

    assert sorted(transport.sent) == sorted(references)
    with app.state.db.session() as db:
        assert db.scalar(select(func.count()).select_from(Message).where(Message.mailed_at.is_(None))) == 0
    app.state.db.dispose()


def test_replicas_send_each_mail_once_on_sqlite(data_dir: Path) -> None:
    _replicas_send_each_mail_once(AuthSettings(data_dir=data_dir))


@pytest.mark.postgres
def test_replicas_send_each_mail_once_on_postgresql(data_dir: Path, postgres_database: str) -> None:
    _replicas_send_each_mail_once(AuthSettings(data_dir=data_dir, database_url=postgres_database))


def test_a_claim_holds_a_mail_until_its_lease_ends_and_a_late_result_is_ignored(data_dir: Path) -> None:
    clock = ManualClock()
    app = create_app(AuthSettings(data_dir=data_dir), migrate=True, clock=clock, run_background=False)
    install(app)
    account = make_customer(app, "hana@example.com")
    reference = file(app, account, "login_code", {"code": "555123", "minutes": 10})
    first, second = replicas(app, Recorder(), 2)

    [claimed] = first._claim("first-claim")
    assert second._claim("second-claim") == []  # held by the first replica

    clock.advance(seconds=first.lease_seconds + 1)  # the first replica went quiet
    [taken_over] = second._claim("second-claim")
    assert taken_over.reference_code == reference

    first._record("first-claim", claimed, "late failure")  # the old claim no longer counts
    assert message(app, reference).mail_attempts == 0
    second._record("second-claim", taken_over, None)
    assert message(app, reference).mailed_at is not None
    app.state.db.dispose()


def test_mail_leaves_in_the_order_it_was_filed_even_under_a_frozen_clock(data_dir: Path) -> None:
    app = create_app(AuthSettings(data_dir=data_dir), migrate=True, clock=ManualClock(), run_background=False)
    sender = install(app)
    account = make_customer(app, "hana@example.com")
    filed = [file(app, account, "account_locked", {"until": "12:00", "case_id": f"c{n}"}) for n in range(6)]

    asyncio.run(sender.send_once())

    written = [email.message_from_bytes(path.read_bytes())["X-Mamori-Reference"] for path in eml_files(data_dir)]
    assert written == filed  # what a reader sorting the folder (the test harness) relies on
    app.state.db.dispose()
