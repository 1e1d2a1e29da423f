"""Shapes of the message centre: its routes and the ``notify`` event other services send."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


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


class VerifyMessageRequest(BaseModel):
    """Either the reference code from a mail, or the whole mail pasted as text."""

    model_config = ConfigDict(extra="forbid")

    reference_code: str | None = Field(default=None, max_length=64, examples=["MMR-ABCDE-FGHJK"])
    text: str | None = Field(default=None, description="A pasted mail; its reference codes are looked up.")

    @model_validator(mode="after")
    def _exactly_one(self) -> VerifyMessageRequest:
        if (self.reference_code is None) == (self.text is None):
            raise ValueError("send either reference_code or text")
        return self


class Verdict(str, enum.Enum):
    genuine = "genuine"
    #: Told to a visitor without a session: Mamori issued this code, to whom is not said.
    issued = "issued"
    not_ours = "not_ours"
    not_for_you = "not_for_you"


class VerdictReason(str, enum.Enum):
    sent_to_you = "sent_to_you"
    no_reference_code = "no_reference_code"
    unknown_reference_code = "unknown_reference_code"
    sent_to_another_account = "sent_to_another_account"
    issued_by_mamori = "issued_by_mamori"


class VerifyMessageResponse(BaseModel):
    genuine: bool = Field(
        description="Mamori sent this message: to the signed-in account, or (asked without a session) to someone."
    )
    sent_to_this_account: bool
    verdict: Verdict
    reason: VerdictReason
    detail: str = Field(description="What the verdict means and what to do, for the customer.")
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
