"""What a statement shows (services/verification/scanning/statement.py) and how it meets the
checklist (services/verification/documents/matching.py)."""

from __future__ import annotations

import pytest

from mamori_common.card_numbers import normalised
from services.verification.documents.matching import checklist_updates
from services.verification.scanning.statement import StatementFindings
from services.verification.scanning.statement import read_statement as read_folded


def read_statement(text: str, holder_name: str | None) -> StatementFindings:
    """The statement read from ``text`` folded once, as the scan hands it over."""
    return read_folded(normalised(text).text, holder_name)


@pytest.mark.parametrize(
    ("text", "last4"),
    [
        ("Card: **** **** **** 4242", ["4242"]),
        ("Card: KKKK KKKK 大 大 大 大 4242 Name", ["4242"]),  # OCR reading mask stars as letters
        ("カード番号 下4桁：４２４２", ["4242"]),
        ("XXXX-XXXX-XXXX-1881 ending in 1881", ["1881"]),
        ("Tel 03-1234-5678, total 5,000 yen", []),
        # Masks as printed, and as Tesseract and RapidOCR read them back.
        ("カード番号 ●●●● ●●●● ●●●● 9011", ["9011"]),
        ("カード番号 ＊＊＊＊ ＊＊＊＊ ＊＊＊＊ ９０１１", ["9011"]),
        ("Card ×××× ×××× ×××× 9011", ["9011"]),
        ("Card •••• •••• •••• 9011", ["9011"]),
        ("力一下番号 ・・・・ ・・・・ ・・・・ 9011", ["9011"]),
        ("力一下番号 0000 0000 0000 9011", ["9011"]),  # RapidOCR on ●●●●
        ("カード番号 OOOO OOOO OOOO 9011", ["9011"]),  # Tesseract on ●●●●
        ("力一下番号 ************9011", ["9011"]),
        ("Card number 000000000009 9011", ["9011"]),  # RapidOCR: a mask read as a digit
        ("カード番号 のののの⑥ 0000 0008 9011", ["9011"]),  # Tesseract on ●●●●
        ("Card number ............9011", ["9011"]),  # RapidOCR on ••••
        ("Total ........ 5000", []),  # leader dots in a table are not a mask
        ("Card ··.·..·9011", []),  # too garbled to be a mask: not taken for one
        ("注文番号 0000 1234", []),  # one group of zeros is a number, not a mask
        ("Box 1234, Maxx 5678", []),
    ],
)
def test_a_statement_shows_the_cards_last_four(text: str, last4: list[str]) -> None:
    assert read_statement(text, None).last4 == last4


def test_name_address_and_phone_are_found_whatever_the_spacing_and_width() -> None:
    found = read_statement(
        "ご請求先 ＹＵＫＩ　ＴＡＮＡＫＡ 様\n〒150-0002 東京都渋谷区\nTEL 090-1234-5678", "Yuki Tanaka"
    )
    assert (found.name, found.address, found.phone) == (True, True, True)
    nothing = read_statement("Order 112-3456789-1234567", "Yuki Tanaka")
    assert (nothing.name, nothing.address, nothing.phone) == (False, False, False)


def test_the_checklist_is_met_only_by_what_the_statement_shows() -> None:
    updates = {
        u.code: (u.status.value, u.reason_code)
        for u in checklist_updates(StatementFindings(last4=["4242"], name=True), "4242")
    }
    assert updates == {"statement": ("received", None), "billing_name": ("received", None)}
    other_card = checklist_updates(StatementFindings(last4=["1111"]), "4242")
    assert [(u.code, u.status.value, u.reason_code) for u in other_card] == [
        ("statement", "rejected", "card_last4_mismatch")
    ]
    unreadable = checklist_updates(StatementFindings(), "4242")
    assert [(u.code, u.reason_code) for u in unreadable] == [("statement", "statement_unreadable")]
