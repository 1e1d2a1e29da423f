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

    def line(ja: str, en: str, size: int = 11) -> None:
        pdf.set_font_size(size)
        pdf.multi_cell(0, size * 0.6, f"{ja} / {en}" if japanese else en, new_x="LMARGIN", new_y="NEXT")

    line("返金確認書", "Refund confirmation", 18)
    line(f"参照コード: {confirmation.reference_code}", f"Reference code: {confirmation.reference_code}")
    line(f"注文番号: {confirmation.order_id}", f"Order: {confirmation.order_id}")
    line(
        f"注文日時: {_local(confirmation.order_placed_at, zone)}",
        f"Ordered: {_local(confirmation.order_placed_at, zone)}",
    )
    line(f"注文金額: {confirmation.order_total:,}円", f"Order total: JPY {confirmation.order_total:,}")
    line(f"返金合計: {confirmation.refunded_total:,}円", f"Refunded in total: JPY {confirmation.refunded_total:,}")
    pdf.ln(3)
    for tender in confirmation.tenders:
        ja_name, en_name = TENDER_NAMES.get(tender.tender, (tender.tender, tender.tender))
        card = f" ****{tender.card_last4}" if tender.card_last4 else ""
        line(
            f"{ja_name}{card}: 支払 {tender.paid:,}円 / 返金 {tender.refunded:,}円",
            f"{en_name}{card}: paid JPY {tender.paid:,}, refunded JPY {tender.refunded:,}",
        )
    pdf.ln(3)
    for refund in confirmation.refunds:
        parts = ", ".join(f"{part.tender} {part.amount:,}" for part in refund.parts)
        line(
            f"返金 {_local(refund.created_at, zone)}: {refund.amount:,}円 ({parts})",
            f"Refund {_local(refund.created_at, zone)}: JPY {refund.amount:,} ({parts})",
        )
    pdf.ln(3)
    line(f"発行日時: {_local(confirmation.issued_at, zone)}", f"Issued: {_local(confirmation.issued_at, zone)}")
    if not japanese:
        line("", "(Japanese font not installed on this server: English only.)", 9)
    return bytes(pdf.output())
