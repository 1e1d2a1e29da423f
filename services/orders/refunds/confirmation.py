"""The refund confirmation (S2): JSON for machines, a printable PDF for the card issuer.

The PDF is set in Noto Sans CJK (Debian's fonts-noto-cjk), found at run time; without it the
PDF is still produced, in English only with a core font, and says so on the page. Times on the
page are in the customer's zone (the order keeps it); the JSON carries UTC.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF
from sqlalchemy.orm import Session

from services.orders.ordering.models import Order
from services.orders.refunds.models import Refund
from services.orders.refunds.schemas import RefundConfirmation, RefundOut, RefundPartOut, TenderTotal
from services.orders.refunds.service import refunds_of

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
)
TENDER_NAMES = {
    "points": ("ポイント", "Points"),
    "gift_balance": ("ギフト残高", "Gift balance"),
    "card": ("カード", "Card"),
}


@lru_cache(maxsize=1)
def cjk_font() -> Path | None:
    return next((Path(path) for path in FONT_CANDIDATES if Path(path).is_file()), None)


def reference_code(order_id: str) -> str:
    digest = hashlib.sha256(f"refund-confirmation:{order_id}".encode()).hexdigest().upper()
    return f"RF-{digest[:4]}-{digest[4:8]}"


def refund_out(refund: Refund, order: Order) -> RefundOut:
    last4 = {tender.id: tender.card_last4 for tender in order.tenders}
    return RefundOut(
        id=refund.id,
        order_id=refund.order_id,
        reason=refund.reason,
        amount=refund.amount,
        created_at=refund.created_at,
        parts=[
            RefundPartOut(
                tender=part.tender_kind,
                amount=part.amount,
                state=part.state,
                card_last4=last4.get(part.tender_id),
                settled_at=part.settled_at,
            )
            for part in refund.parts
        ],
    )


def confirmation_for(db: Session, order: Order, now: datetime) -> RefundConfirmation:
    refunds = refunds_of(db, order.account_id, order.id)
    return RefundConfirmation(
        reference_code=reference_code(order.id),
        order_id=order.id,
        order_placed_at=order.placed_at,
        order_total=order.total,
        refunded_total=sum(refund.amount for refund in refunds),
        tenders=[
            TenderTotal(tender=tender.kind, paid=tender.amount, refunded=tender.refunded, card_last4=tender.card_last4)
            for tender in order.tenders
        ],
        refunds=[refund_out(refund, order) for refund in refunds],
        issued_at=now,
    )


def _local(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(zone)).strftime(f"%Y-%m-%d %H:%M ({zone})")


def _amount(kind: str | None, amount: int, language: str) -> str:
    """Yen as "1,300円" / "¥1,300"; points as points ("300ポイント" / "300 points"), never yen."""
    if kind == "points":
        return f"{amount:,}ポイント" if language == "ja" else f"{amount:,} point{'s' if amount != 1 else ''}"
    return f"{amount:,}円" if language == "ja" else f"¥{amount:,}"


def _tender_name(kind: str, language: str) -> str:
    ja, en = TENDER_NAMES.get(kind, ("その他", "Other"))
    return ja if language == "ja" else en


def confirmation_lines(confirmation: RefundConfirmation, zone: str) -> list[tuple[str, str, int]]:
    """The page's lines (Japanese, English, font size): every tender and amount in words, no code."""
    lines = [
        ("返金確認書", "Refund confirmation", 18),
        (f"参照コード: {confirmation.reference_code}", f"Reference code: {confirmation.reference_code}", 11),
        (f"注文番号: {confirmation.order_id}", f"Order: {confirmation.order_id}", 11),
        (
            f"注文日時: {_local(confirmation.order_placed_at, zone)}",
            f"Ordered: {_local(confirmation.order_placed_at, zone)}",
            11,
        ),
        (
            f"注文金額: {_amount(None, confirmation.order_total, 'ja')}",
            f"Order total: {_amount(None, confirmation.order_total, 'en')}",
            11,
        ),
        (
            f"返金合計: {_amount(None, confirmation.refunded_total, 'ja')}",
            f"Refunded in total: {_amount(None, confirmation.refunded_total, 'en')}",
            11,
        ),
        ("", "", 0),
    ]
    for tender in confirmation.tenders:
        card = f" ****{tender.card_last4}" if tender.card_last4 else ""
        lines.append(
            (
                f"{_tender_name(tender.tender, 'ja')}{card}: 支払 {_amount(tender.tender, tender.paid, 'ja')}"
                f" / 返金 {_amount(tender.tender, tender.refunded, 'ja')}",
                f"{_tender_name(tender.tender, 'en')}{card}: paid {_amount(tender.tender, tender.paid, 'en')},"
                f" refunded {_amount(tender.tender, tender.refunded, 'en')}",
                11,
            )
        )
    lines.append(("", "", 0))
    for refund in confirmation.refunds:
        parts_ja = "、".join(
            f"{_tender_name(part.tender, 'ja')} {_amount(part.tender, part.amount, 'ja')}" for part in refund.parts
        )
        parts_en = ", ".join(
            f"{_tender_name(part.tender, 'en')} {_amount(part.tender, part.amount, 'en')}" for part in refund.parts
        )
        lines.append(
            (
                f"返金 {_local(refund.created_at, zone)}: {_amount(None, refund.amount, 'ja')}（{parts_ja}）",
                f"Refund {_local(refund.created_at, zone)}: {_amount(None, refund.amount, 'en')} ({parts_en})",
                11,
            )
        )
    lines.append(("", "", 0))
    lines.append(
        (f"発行日時: {_local(confirmation.issued_at, zone)}", f"Issued: {_local(confirmation.issued_at, zone)}", 11)
    )
    return lines


def render_pdf(confirmation: RefundConfirmation, zone: str) -> bytes:
    pdf = FPDF(format="A4")
    pdf.add_page()
    font = cjk_font()
    japanese = font is not None
    if japanese:
        pdf.add_font("NotoSansCJK", fname=str(font), collection_font_number=0)
        pdf.set_font("NotoSansCJK", size=11)
    else:
        pdf.set_font("Helvetica", size=11)
    for ja, en, size in confirmation_lines(confirmation, zone):
        if not size:
            pdf.ln(3)
            continue
        pdf.set_font_size(size)
        pdf.multi_cell(0, size * 0.6, f"{ja} / {en}" if japanese else en, new_x="LMARGIN", new_y="NEXT")
    if not japanese:
        pdf.set_font_size(9)
        pdf.multi_cell(
            0, 9 * 0.6, "(Japanese font not installed on this server: English only.)", new_x="LMARGIN", new_y="NEXT"
        )
    return bytes(pdf.output())
