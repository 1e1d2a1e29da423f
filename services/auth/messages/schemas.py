"""Shapes of the message centre: its routes and the ``notify`` event other services send."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.auth.messages.genuineness import Verdict, VerdictReason

__all__ = ["Verdict", "VerdictReason"]


class MessageItem(BaseModel):
    id: str
    reference_code: str = Field(description="Printed in the mail; check a mail with verifyMessage.")
    subject: str
    body: str = Field(description="The text as mailed, with one-time codes masked.")
    language: str
    created_at: datetime
    source_service: str = Field(description="Which Mamori service sent it (auth, orders, verification).")
    mailed_at: datetime | None = Field(description="When the mail left; null while it is queued.")


class MessageList(BaseModel):
    items: list[MessageItem]
    #: How many messages the centre holds in all.
    total: int
    #: The cursor of the next page (pass it as ``cursor``); null on the last page.
    next: str | None = None


class VerifyByCode(BaseModel):
    """Only the reference code printed in a mail."""

    model_config = ConfigDict(extra="forbid")

    reference_code: str = Field(max_length=64, examples=["MMR-ABCDE-FGHJK"])


class VerifyByText(BaseModel):
    """The whole mail pasted as text; its reference codes are looked up."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="A pasted mail; its reference codes are looked up.")


#: Either the reference code from a mail, or the whole mail pasted as text: one of the two, never
#: both (each shape refuses the other's field), so the contract says what the server holds to.
VerifyMessageRequest = VerifyByCode | VerifyByText


class VerifyMessageResponse(BaseModel):
    genuine: bool = Field(
        description="True only when the caller is signed in and the pasted text is the message Mamori sent "
        "this account. A reference code alone is never enough: phishing mails copy real codes."
    )
    sent_to_this_account: bool
    verdict: Verdict
    reason: VerdictReason
    detail: str = Field(description="What the verdict means and what to do, for the customer.")
    flags: list[VerdictReason] = Field(
        default_factory=list, description="Every warning found: a foreign sender, a foreign link, another text."
    )
    foreign_hosts: list[str] = Field(default_factory=list, description="Hosts of links in the paste that are not ours.")
    reference_code: str | None = None
    sent_at: datetime | None = Field(default=None, description="Only for a message sent to this account.")
    subject: str | None = Field(default=None, description="Only for a message sent to this account.")


class NoticeData(BaseModel):
    """Data of the generic ``notice`` template: the sender writes both languages."""

    model_config = ConfigDict(extra="allow")

    subject_ja: str = Field(min_length=1, max_length=200)
    subject_en: str = Field(min_length=1, max_length=200)
    body_ja: str = Field(min_length=1, max_length=10_000)
    body_en: str = Field(min_length=1, max_length=10_000)


class NotifyPayload(BaseModel):
    """The payload of a ``notify`` event: file a message for an account and mail it."""

    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=32)
    template: str = Field(default="notice", min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)
