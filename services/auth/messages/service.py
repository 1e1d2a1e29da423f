"""Filing a message in the message centre. The mail sender delivers it after the commit."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session as DbSession

from mamori_common.clock import Clock
from mamori_common.pagination import Page, PageRequest, Position, paginate
from services.auth.accounts.models import Account
from services.auth.credentials.encryption import Encryptor
from services.auth.messages.models import Message
from services.auth.messages.templates import render

_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L: read aloud over the phone


def new_reference_code() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"MMR-{body[:5]}-{body[5:]}"


#: ``MMR-ABCDE-23456`` as people paste it: any case, a few spaces or dashes of any kind between the
#: parts, a single space inside a part. Every quantifier is bounded, so a hostile 100 kB paste
#: cannot make the search backtrack for long.
_SEP = r"[\s\-\u2010-\u2015\u2212\u30fc_.]{0,3}"
_PART = r"((?:[A-Z0-9][ \t]?){4}[A-Z0-9])"
_PASTED_CODE = re.compile(rf"M[ \t]?M[ \t]?R{_SEP}{_PART}{_SEP}{_PART}(?![A-Z0-9])", re.IGNORECASE)
#: How many distinct codes one pasted mail is checked for (a real mail has one).
MAX_CODES_PER_TEXT = 20


def normalise_reference_code(raw: str) -> str | None:
    """The canonical ``MMR-ABCDE-23456`` for what a customer typed, or None if it cannot be one.

    NFKC first, so full-width characters from a Japanese mail client count as the plain ones.
    """
    compact = re.sub(r"[^A-Z0-9]", "", unicodedata.normalize("NFKC", raw).upper())
    if len(compact) != 13 or not compact.startswith("MMR"):
        return None
    return f"MMR-{compact[3:8]}-{compact[8:]}"


def reference_codes_in(text: str) -> list[str]:
    """Distinct reference codes found in a pasted mail, in the order they appear."""
    found: list[str] = []
    for match in _PASTED_CODE.finditer(unicodedata.normalize("NFKC", text)):
        code = normalise_reference_code("MMR" + match.group(1) + match.group(2))
        if code and code not in found:
            found.append(code)
            if len(found) >= MAX_CODES_PER_TEXT:
                break
    return found


def messages_by_reference(db: DbSession, codes: Iterable[str]) -> dict[str, Message]:
    wanted = list(codes)
    if not wanted:
        return {}
    rows = db.execute(select(Message).where(Message.reference_code.in_(wanted))).scalars()
    return {message.reference_code: message for message in rows}


def list_messages(db: DbSession, account_id: str, page: PageRequest) -> tuple[Page[Message], int]:
    """One page of the account's message centre, newest first, and how many there are in all."""
    messages = paginate(
        db,
        select(Message).where(Message.account_id == account_id),
        page=page,
        scope=f"listMessages:{account_id}",
        order=(Message.created_at, Message.id),
        key=lambda message: Position(message.created_at, message.id),
    )
    total = db.scalar(select(func.count()).select_from(Message).where(Message.account_id == account_id)) or 0
    return messages, int(total)


#: ``Session.info`` key of the mail sender's wake-up call (set by :func:`messages.mailer.install`).
MAIL_WAKE_KEY = "mamori.auth.messages.wake_mailer"
#: ``Session.info`` key of :class:`MessageServices`, for code that gets a session but no request.
MESSAGE_SERVICES_KEY = "mamori.auth.messages.services"


@dataclass(frozen=True)
class MessageServices:
    """What filing a message needs from the app, for callers that only hold a session (event handlers)."""

    encryptor: Encryptor
    clock: Clock


def message_services(db: DbSession) -> MessageServices:
    services = db.info.get(MESSAGE_SERVICES_KEY)
    if services is None:
        raise RuntimeError("the message centre is not wired into this app (messages.mailer.install)")
    return services


def _wake_mailer_after_commit(db: DbSession) -> None:
    """Mail the message as soon as the transaction that filed it commits, not at the next poll."""
    wake: Callable[[], None] | None = db.info.get(MAIL_WAKE_KEY)
    if wake is not None:
        event.listen(db, "after_commit", lambda _session: wake(), once=True)


def file_message(
    db: DbSession,
    account: Account,
    template: str,
    data: dict[str, Any],
    *,
    encryptor: Encryptor,
    now: datetime,
    recipient: str | None = None,
    source_service: str = "auth",
    source_event_id: str | None = None,
) -> Message:
    """Store the message (it shows in the message centre at once) and queue it for mailing.

    The centre keeps the text with codes masked; the mail as sent is kept encrypted only until
    the mail sender has delivered it.

    ``recipient`` defaults to the account's e-mail; a change notice goes to the old address.
    Times in ``data`` may be ``datetime``: they read in the account's zone and language.
    """
    reference_code = new_reference_code()
    language = account.language.value
    zone = account.time_zone
    fields = {"name": account.name, **data}
    subject, mail_body = render(template, language, fields, reference_code, zone)
    masked = {key: ("•" * 6 if key in SECRET_FIELDS else value) for key, value in fields.items()}
    _, centre_body = render(template, language, masked, reference_code, zone)
    message = Message(
        account_id=account.id,
        reference_code=reference_code,
        template=template,
        language=language,
        subject=subject,
        body=centre_body,
        mail_body_encrypted=encryptor.encrypt(mail_body),
        recipient=recipient or account.email,
        source_service=source_service,
        source_event_id=source_event_id,
        data={
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in data.items()
            if key not in SECRET_FIELDS
        },
        created_at=now,
    )
    db.add(message)
    _wake_mailer_after_commit(db)
    return message


#: Placeholders whose values are credentials: mailed once, never kept in the message's data.
SECRET_FIELDS = frozenset({"code", "token", "revert_code"})
