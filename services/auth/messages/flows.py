"""The message centre's orchestration: ``notify`` events from other services, and checking a mail.

Every message to a customer, whoever sends it, goes through :func:`service.file_message`, so each
one is in the message centre with a reference code before it is mailed.
"""

from __future__ import annotations

import logging
import re
import string
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from mamori_common.events import EventEnvelope
from mamori_common.problems import Problem
from services.auth.accounts.models import Account
from services.auth.messages.models import Message
from services.auth.messages.schemas import (
    NoticeData,
    NotifyPayload,
    Verdict,
    VerdictReason,
    VerifyMessageResponse,
)
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

_DETAILS = {
    VerdictReason.sent_to_you: "Mamori sent this message to your account. Compare it with the copy in your message "
    "centre: the subject and text must match. Even so, we never ask you to click a link to sign in.",
    VerdictReason.no_reference_code: "This text has no Mamori reference code. Every mail Mamori sends carries one, "
    "so this mail is not from Mamori: do not reply, click links or enter codes from it.",
    VerdictReason.unknown_reference_code: "Mamori never sent a message with this reference code: the mail is not from "
    "Mamori. Do not reply, click links or enter codes from it.",
    VerdictReason.sent_to_another_account: "This reference code was not sent to your account. If the mail reached "
    "you, treat it as suspicious: do not reply, click links or enter codes from it.",
    VerdictReason.issued_by_mamori: "Mamori issued this reference code. Signed out, we do not say to whom or what "
    "it said: sign in and compare the mail with the copy in your message centre.",
}


def _answer(reason: VerdictReason, reference_code: str | None, message: Message | None = None) -> VerifyMessageResponse:
    verdict = {
        VerdictReason.sent_to_you: Verdict.genuine,
        VerdictReason.sent_to_another_account: Verdict.not_for_you,
        VerdictReason.issued_by_mamori: Verdict.issued,
    }.get(reason, Verdict.not_ours)
    mine = reason is VerdictReason.sent_to_you
    return VerifyMessageResponse(
        genuine=mine or reason is VerdictReason.issued_by_mamori,
        sent_to_this_account=mine,
        verdict=verdict,
        reason=reason,
        detail=_DETAILS[reason],
        reference_code=reference_code,
        sent_at=(message.mailed_at or message.created_at) if mine and message else None,
        subject=message.subject if mine and message else None,
    )


def verify_message(
    db: DbSession,
    account: Account | None,
    *,
    reference_code: str | None = None,
    text: str | None = None,
    max_text_bytes: int,
) -> VerifyMessageResponse:
    """Did Mamori send this (a reference code, or a pasted mail) to this account?

    A code of another account's message says only that: nothing about that account or message.
    Without an account (a visitor, maybe an owner an intruder locked out) the answer is only
    whether Mamori issued the code: no subject, no time, no addressee.
    """
    if text is not None:
        if len(text.encode("utf-8", errors="replace")) > max_text_bytes:
            raise Problem(
                413,
                "text_too_long",
                f"Paste at most {max_text_bytes // 1000} kB; the reference code is near the end of the mail.",
                max_bytes=max_text_bytes,
            )
        codes = reference_codes_in(text)
    else:
        code = normalise_reference_code(reference_code or "")
        if code is None:  # not even the shape of one: no mail of ours carries it
            return _answer(VerdictReason.unknown_reference_code, None)
        codes = [code]
    if not codes:
        return _answer(VerdictReason.no_reference_code, None)
    found = messages_by_reference(db, codes)
    if account is None:
        issued = next((code for code in codes if code in found), None)
        if issued is not None:
            return _answer(VerdictReason.issued_by_mamori, issued)
        return _answer(VerdictReason.unknown_reference_code, codes[0])
    for code in codes:
        message = found.get(code)
        if message is not None and message.account_id == account.id:
            return _answer(VerdictReason.sent_to_you, code, message)
    for code in codes:
        if code in found:
            return _answer(VerdictReason.sent_to_another_account, code)
    return _answer(VerdictReason.unknown_reference_code, codes[0])
