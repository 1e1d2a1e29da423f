"""The message centre's orchestration: ``notify`` events from other services, and checking a mail.

Every message to a customer, whoever sends it, goes through :func:`service.file_message`, so each
one is in the message centre with a reference code before it is mailed.
"""

from __future__ import annotations

import logging
import re
import string
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from mamori_common.events import EventEnvelope
from mamori_common.problems import Problem
from services.auth.accounts.models import Account
from services.auth.config import AuthSettings
from services.auth.messages import genuineness
from services.auth.messages.genuineness import Verdict, VerdictReason
from services.auth.messages.models import Message
from services.auth.messages.schemas import NoticeData, NotifyPayload, VerifyMessageResponse
from services.auth.messages.service import (
    SECRET_FIELDS,
    file_message,
    message_services,
    messages_by_reference,
    normalise_reference_code,
    reference_codes_in,
)
from services.auth.messages.templates import TEMPLATES, notice_time_values

logger = logging.getLogger("mamori.auth.messages")

#: Fields a sender may not set: the greeting's name and the reference code are Mamori's own.
_RESERVED_FIELDS = frozenset({"name", "reference_code"})
#: Anything that looks like a link: mails carry no links (a customer must never learn to click one).
_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)


def _placeholders(template: str) -> set[str]:
    names: set[str] = set()
    for texts in TEMPLATES[template].values():
        for text in (texts.subject, texts.body):
            names.update(field for _, field, _, _ in string.Formatter().parse(text) if field)
    return names


def _invalid(detail: str, **extra: Any) -> Problem:
    return Problem(422, "invalid_notify_payload", detail, **extra)


def parse_notify(payload: dict[str, Any]) -> NotifyPayload:
    """Check a ``notify`` payload; a 422 problem tells the producer what is wrong."""
    try:
        notify = NotifyPayload.model_validate(payload)
    except ValidationError as exc:
        raise _invalid("The notify payload has missing or invalid fields.", errors=_errors(exc)) from exc
    if notify.template not in TEMPLATES:
        raise _invalid(f"There is no message template {notify.template!r}.", templates=sorted(TEMPLATES))
    needed = _placeholders(notify.template) - {"name"}
    if needed & SECRET_FIELDS:
        raise _invalid("This template carries auth's one-time codes; other services may not send it.")
    if notify.template == "notice":
        try:
            NoticeData.model_validate(notify.data)
        except ValidationError as exc:
            raise _invalid(
                "The notice data needs subject_ja, subject_en, body_ja and body_en.", errors=_errors(exc)
            ) from exc
        try:
            notice_time_values(notify.data)
        except ValueError as exc:
            raise _invalid(f"A time placeholder cannot be shown: {exc}.") from exc
    reserved = sorted(_RESERVED_FIELDS & notify.data.keys())
    if reserved:
        raise _invalid(f"The data may not set {', '.join(reserved)}.")
    missing = sorted(needed - notify.data.keys())
    if missing:
        raise _invalid(f"The template needs {', '.join(missing)}.", missing=missing)
    for key, value in notify.data.items():
        if not isinstance(value, (str, int, float)) and key in needed:
            raise _invalid(f"The field {key} must be text or a number.")
        if isinstance(value, str) and _LINK.search(value):
            raise Problem(422, "links_not_allowed", f"Mails carry no links; the field {key} has one.")
    return notify


def _errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"location": ".".join(str(part) for part in error["loc"]), "message": error["msg"]} for error in exc.errors()
    ]


def handle_notify(db: DbSession, envelope: EventEnvelope) -> None:
    """``notify`` from another service: file the message for the account (mailed after commit).

    Applied once: the inbox records the event id, and the message keeps it as ``source_event_id``.
    An unknown account is logged and the event recorded, so the producer stops retrying it.
    """
    try:
        notify = parse_notify(envelope.payload)
    except Problem:
        logger.warning("notify event refused", extra={"event_id": envelope.id, "source": envelope.source})
        raise
    if db.scalar(select(Message.id).where(Message.source_event_id == envelope.id)) is not None:
        return
    account = db.get(Account, notify.account_id)
    if account is None:
        logger.warning(
            "notify event for an unknown account",
            extra={"event_id": envelope.id, "source": envelope.source, "account_id": notify.account_id},
        )
        return
    services = message_services(db)
    file_message(
        db,
        account,
        notify.template,
        notify.data,
        encryptor=services.encryptor,
        now=services.clock.now(),
        source_service=envelope.source,
        source_event_id=envelope.id,
    )


# --- verifyMessage ------------------------------------------------------------------------------
# The rules are genuineness.py's; here the paste is read, the code looked up, the answer worded.

_DETAILS = {
    VerdictReason.text_matches: "This is the message Mamori sent to your account: the text matches the copy in your "
    "message centre. Even so, we never ask you to click a link to sign in.",
    VerdictReason.code_sent_to_you: "Mamori sent a message with this reference code to your account. A code alone "
    "proves nothing (phishing mails copy real codes): compare the mail with the copy in your message centre, or "
    "paste the whole mail here.",
    VerdictReason.issued_by_mamori: "Mamori sent a message with this reference code. Signed out, we do not say to "
    "whom or what it said, and a code alone proves nothing: sign in and compare the mail with the copy in your "
    "message centre.",
    VerdictReason.foreign_sender: "This mail carries a Mamori reference code but comes from an address that is not "
    "Mamori's. It is phishing: do not reply, click links or enter codes from it.",
    VerdictReason.foreign_link: "This mail carries a Mamori reference code but links to a site that is not Mamori's "
    "(our mails carry no links). It is phishing: do not click its links or enter anything there.",
    VerdictReason.text_differs: "This mail carries a reference code of a message we sent you, but its text is not "
    "what we sent. Treat it as phishing: do not reply, click links or enter codes from it, and read the real "
    "message in your message centre.",
    VerdictReason.no_reference_code: "This text has no Mamori reference code. Every mail Mamori sends carries one, "
    "so this mail is not from Mamori: do not reply, click links or enter codes from it.",
    VerdictReason.unknown_reference_code: "Mamori never sent a message with this reference code: the mail is not from "
    "Mamori. Do not reply, click links or enter codes from it.",
    VerdictReason.sent_to_another_account: "This reference code was not sent to your account. If the mail reached "
    "you, treat it as suspicious: do not reply, click links or enter codes from it.",
}


def own_domains(settings: AuthSettings) -> list[str]:
    """Where our mail comes from: the domain of ``mail_from``."""
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2]
    return [domain] if domain else []


def own_hosts(settings: AuthSettings) -> list[str]:
    """Hosts a link may name without being flagged as foreign (it still differs from our text)."""
    origins = [urlsplit(origin).hostname or "" for origin in settings.passkey_origins]
    return [*own_domains(settings), settings.passkey_rp_id, *origins, *settings.own_link_hosts]


def verify_message(
    db: DbSession,
    account: Account | None,
    *,
    settings: AuthSettings,
    reference_code: str | None = None,
    text: str | None = None,
) -> VerifyMessageResponse:
    """Did Mamori send this mail (a pasted mail, or only its reference code) to this account?

    A code of another account's message says only that: nothing about that account or message.
    Without an account (a visitor, maybe an owner an intruder locked out) the answer is at most
    that Mamori issued the code: no subject, no time, no addressee, never "genuine".
    """
    paste: genuineness.PastedMail | None = None
    if text is not None:
        limit = settings.verify_message_max_text_bytes
        if len(text.encode("utf-8", errors="replace")) > limit:
            raise Problem(
                413,
                "text_too_long",
                f"Paste at most {limit // 1000} kB; the reference code is near the end of the mail.",
                max_bytes=limit,
            )
        codes = reference_codes_in(text)
        paste = genuineness.read_paste(text)
    else:
        code = normalise_reference_code(reference_code or "")
        codes = [code] if code else []
    found = messages_by_reference(db, codes)
    mine = [code for code in codes if account is not None and code in found and found[code].account_id == account.id]
    candidates = mine or [code for code in codes if code in found] or codes
    chosen = candidates[0] if candidates else None
    message = found.get(chosen) if chosen else None
    known = (
        genuineness.SentMessage(
            subject=message.subject,
            body=message.body,
            to_caller=account is not None and message.account_id == account.id,
        )
        if message is not None
        else None
    )
    judgement = genuineness.judge(
        signed_in=account is not None,
        known=known,
        any_code=bool(codes) or (text is None and reference_code is not None),
        paste=paste,
        own_domains=own_domains(settings),
        own_hosts=own_hosts(settings),
    )
    show = message is not None and known is not None and known.to_caller
    return VerifyMessageResponse(
        genuine=judgement.verdict is Verdict.genuine,
        sent_to_this_account=show,
        verdict=judgement.verdict,
        reason=judgement.reason,
        detail=_DETAILS[judgement.reason],
        flags=list(judgement.flags),
        foreign_hosts=list(judgement.foreign_hosts),
        reference_code=chosen,
        sent_at=(message.mailed_at or message.created_at) if show and message else None,
        subject=message.subject if show and message else None,
    )
