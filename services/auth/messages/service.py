"""Filing a message in the message centre. The mail sender delivers it after the commit."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session as DbSession

from services.auth.accounts.models import Account
from services.auth.credentials.encryption import Encryptor
from services.auth.messages.models import Message
from services.auth.messages.templates import render

_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L: read aloud over the phone


def new_reference_code() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"MMR-{body[:5]}-{body[5:]}"


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
    """
    reference_code = new_reference_code()
    language = account.language.value
    fields = {"name": account.name, **data}
    subject, mail_body = render(template, language, fields, reference_code)
    masked = {key: ("•" * 6 if key in SECRET_FIELDS else value) for key, value in fields.items()}
    _, centre_body = render(template, language, masked, reference_code)
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
        data={key: value for key, value in data.items() if key not in SECRET_FIELDS},
        created_at=now,
    )
    db.add(message)
    return message


#: Placeholders whose values are credentials: mailed once, never kept in the message's data.
SECRET_FIELDS = frozenset({"code", "token", "revert_code"})
