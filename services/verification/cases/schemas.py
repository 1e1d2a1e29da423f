"""Shapes of the case routes (customer and staff views of the same case)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.verification import catalogue
from services.verification.cases import checklist, phones
from services.verification.cases.models import Case, ChecklistItem, TimelineEntry
from services.verification.cases.states import ACCEPTS_CUSTOMER_INPUT
from services.verification.documents.models import Document


class Bilingual(BaseModel):
    ja: str
    en: str


def _text(text: catalogue.Text) -> Bilingual:
    return Bilingual(ja=text.ja, en=text.en)


class ChecklistItemView(BaseModel):
    code: str
    label: Bilingual
    how: Bilingual = Field(description="What the customer can do to meet it.")
    status: Literal["missing", "received", "accepted", "rejected"]
    status_label: Bilingual
    reason_code: str | None = None
    reason: Bilingual | None = Field(default=None, description="Why it was rejected, for the customer.")
    source: str | None = Field(default=None, description="document or supplement")

    @classmethod
    def of(cls, item: ChecklistItem) -> ChecklistItemView:
        texts = catalogue.CHECKLIST_ITEMS[item.code]
        reason = catalogue.REASONS.get(item.reason_code or "")
        return cls(
            code=item.code,
            label=_text(texts.label),
            how=_text(texts.how),
            status=item.status,  # type: ignore[arg-type]  # a str column of ItemStatus values; pydantic checks it
            status_label=_text(catalogue.ITEM_STATUS_NAMES[item.status]),
            reason_code=item.reason_code,
            reason=_text(reason.text) if reason else None,
            source=item.source,
        )


class TimelineView(BaseModel):
    at: datetime
    actor: str = Field(description="customer, system, specialist, support, admin, or a service (auth, orders)")
    channel: str = Field(description="portal, event, staff or phone")
    kind: str
    summary: Bilingual

    @classmethod
    def of(cls, entry: TimelineEntry) -> TimelineView:
        return cls(
            at=entry.at,
            actor=entry.actor,
            channel=entry.channel,
            kind=entry.kind,
            summary=Bilingual(ja=entry.summary_ja, en=entry.summary_en),
        )


class CaseSummary(BaseModel):
    id: str
    number: str = Field(description="The case number to read aloud, e.g. C-7KQ2-9XM4.")
    kind: str
    kind_label: Bilingual
    state: str
    state_label: Bilingual
    restricts_account: bool
    opened_at: datetime
    updated_at: datetime
    due_at: datetime | None = Field(description="The promised answer time (UTC); null once decided.")
    needs_from_customer: bool = Field(
        description="Whether the case waits for something from the customer (a checklist item missing or "
        "rejected). False for a kind that asks for nothing (a not-mine report, an intrusion): its page offers no upload."
    )

    @classmethod
    def fields_of(cls, case: Case) -> dict[str, Any]:
        return {
            "id": case.id,
            "number": case.number,
            "kind": case.kind,
            "kind_label": _text(catalogue.KIND_NAMES[case.kind]),
            "state": case.state,
            "state_label": _text(catalogue.state_name(case.state, case.kind, bool(checklist.items_for(case.kind)))),
            "restricts_account": case.restricts_account,
            "opened_at": case.opened_at,
            "updated_at": case.updated_at,
            "due_at": case.due_at,
            # a kind without a checklist never loads its (empty) items
            "needs_from_customer": case.state in ACCEPTS_CUSTOMER_INPUT
            and bool(checklist.items_for(case.kind))
            and bool(checklist.outstanding(case.items)),
        }

    @classmethod
    def of(cls, case: Case) -> CaseSummary:
        return cls(**cls.fields_of(case))


class DocumentView(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    pages: int
    masked: bool = Field(description="The stored copy has card digits blacked out.")
    uploaded_at: datetime
    purged: bool

    @classmethod
    def of(cls, document: Document) -> DocumentView:
        return cls(
            id=document.id,
            filename=document.filename,
            content_type=document.content_type,
            size=document.size,
            pages=document.pages,
            masked=document.masked,
            uploaded_at=document.uploaded_at,
            purged=document.purged_at is not None,
        )


class CaseDetail(CaseSummary):
    checklist: list[ChecklistItemView]
    timeline: list[TimelineView]
    documents: list[DocumentView] = Field(description="What you sent (names and sizes only).")
    order_ids: list[str]
    card_last4: str | None

    @classmethod
    def build(cls, case: Case, documents: list[Document], *, staff: bool = False) -> CaseDetail:
        return cls(
            **cls.fields_of(case),
            checklist=[ChecklistItemView.of(item) for item in case.items],
            timeline=[TimelineView.of(entry) for entry in case.timeline if staff or entry.visible_to_customer],
            documents=[DocumentView.of(document) for document in documents],
            order_ids=list(case.order_ids or []),
            card_last4=case.card_last4,
        )


class CaseList(BaseModel):
    items: list[CaseSummary]
    #: The cursor of the next page (pass it as ``cursor``); null on the last page.
    next: str | None = None


class SupplementRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: Literal["billing_name", "billing_address", "cardholder_phone"]
    value: str = Field(min_length=1, max_length=500, description="What the statement lacks, typed in.")


def _declare_phone_pattern(schema: dict[str, Any]) -> None:
    schema["pattern"] = phones.declared_pattern()


class CallbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(
        min_length=1,
        max_length=64,
        description="A number to call: 7 to 15 digits, an optional +, spaces, dashes, dots or parentheses, in "
        "any width (`pattern`: exactly what is accepted; 422 `invalid_phone` otherwise, in Japanese and English; "
        "422 `card_number_visible` for a card number).",
        json_schema_extra=_declare_phone_pattern,
    )
    case_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="Join an existing case; without it a callback case is opened.",
    )
    note: str = Field(default="", max_length=1000)
