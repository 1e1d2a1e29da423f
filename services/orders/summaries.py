"""Turning what was done to an order into customer lines (both languages) and notice data.

Times stay placeholders (``{refunded_at}``, ``{refunded_b_at}``: auth's ``{lowercase_at}`` form) with the UTC ISO value in the data: auth renders
them in the customer's zone.
"""

from __future__ import annotations

from typing import Any

from services.orders.catalogue import ACTION_TEXTS, Text, reason_text
from services.orders.intrusion.undo import UndoReport
from services.orders.ordering.models import Order


def order_label(order: Order) -> str:
    """The short label a customer sees for an order (the start of its id, upper case)."""
    return order.id[:8].upper()


def _letters(index: int) -> str:
    """1 -> ``a``, 27 -> ``aa``: auth's notice placeholders are ``{lowercase_at}``, no digits."""
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


def action_lines(order: Order, report: UndoReport, index: int = 0) -> tuple[list[str], list[str], dict[str, Any]]:
    label = order_label(order)
    ja: list[str] = []
    en: list[str] = []
    data: dict[str, Any] = {}
    if report.cancelled_line_ids:
        ja.append("・" + ACTION_TEXTS["cancelled"].ja.format(order=label))
        en.append("- " + ACTION_TEXTS["cancelled"].en.format(order=label))
    if report.refund is not None:
        key = f"refunded_{_letters(index)}_at" if index else "refunded_at"
        ja.append(
            "・" + ACTION_TEXTS["refunded"].ja.format(amount=f"{report.refund.amount:,}", refunded_at="{" + key + "}")
        )
        en.append(
            "- " + ACTION_TEXTS["refunded"].en.format(amount=f"{report.refund.amount:,}", refunded_at="{" + key + "}")
        )
        data[key] = report.refund.created_at.isoformat()
    if report.voided:
        amount = f"{order.total:,}"
        ja.append("・" + ACTION_TEXTS["authorisation_voided"].ja.format(order=label, amount=amount))
        en.append("- " + ACTION_TEXTS["authorisation_voided"].en.format(order=label, amount=amount))
    if report.return_id:
        ja.append("・" + ACTION_TEXTS["return_opened"].ja.format(order=label))
        en.append("- " + ACTION_TEXTS["return_opened"].en.format(order=label))
    for code in sorted(set(report.kept.values())):
        why = reason_text(code)
        ja.append("・" + ACTION_TEXTS["not_cancellable"].ja.format(order=label, why_ja=why.ja, why_en=why.en))
        en.append("- " + ACTION_TEXTS["not_cancellable"].en.format(order=label, why_ja=why.ja, why_en=why.en))
    return ja, en, data


#: What was done to an order, in a few words (a case's timeline line); ``UndoReport.actions`` codes.
ACTION_WORDS: dict[str, Text] = {
    "cancelled": Text(ja="キャンセルしました", en="cancelled"),
    "refunded": Text(ja="返金しました", en="refunded"),
    "authorisation_voided": Text(ja="カードの与信を取り消しました", en="card authorisation released"),
    "return_opened": Text(ja="返品を受け付けました", en="return opened"),
}


def action_words(report: UndoReport) -> list[Text]:
    """The report's actions in words; a line that could not be cancelled says why."""
    words = [ACTION_WORDS[code] for code in report.actions() if code in ACTION_WORDS]
    for code in sorted(set(report.kept.values())):
        why = reason_text(code)
        words.append(Text(ja=f"取り消せませんでした（{why.ja}）", en=f"could not be cancelled ({why.en})"))
    return words
