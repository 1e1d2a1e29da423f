"""What a Japanese customer reads names every code in words: no ``snake_case`` code, no "JPY",
amounts as "100,000円", points as points (issue 19, point 1)."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mamori_common import contract
from portal.localization import Reader
from portal.words import REASON_WORDS
from tests.auth.messaging_support import deliver_event
from tests.orders.harness import card_tender, line
from tests.portal.conftest import CasePortal

JA = {"accept-language": "ja"}
#: Words joined by underscores: a machine code a person should never read.
RAW_CODE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


class _Text(HTMLParser):
    """The text a person sees (no tags, attributes, scripts or styles)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def seen(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def assert_plain(text: str) -> None:
    assert not RAW_CODE.findall(text), f"raw codes on the page: {RAW_CODE.findall(text)}"
    assert "JPY" not in text


def event(type_: str, source: str, payload: dict[str, object]) -> dict[str, object]:
    return {
        "id": uuid.uuid4().hex,
        "type": type_,
        "source": source,
        "occurred_at": "2026-11-24T00:00:00+00:00",
        "payload": payload,
    }


def test_account_and_security_events_name_every_reason_in_japanese(case_portal: CasePortal) -> None:
    account_id = case_portal.customer("yuki@example.com")
    changed = case_portal.post(
        "/security/email", {"new_email": "yuki.new@example.com"}, form_page="/security", headers=JA
    )
    assert changed.status_code == 200, changed.text
    case_id = "7" * 32
    auth = case_portal.auth
    opened = event(
        contract.CASE_OPENED,
        "verification",
        {
            "case_id": case_id,
            "case_number": contract.case_number(case_id),
            "account_id": account_id,
            "kind": "payment_verification",
            "restricts_account": True,
            "reason": "gift_or_top_up_over_limit, cardholder_name_differs",
        },
    )
    assert deliver_event(auth.client, auth.app, opened).json()["status"] == "applied"
    step_up = event(
        contract.ACCOUNT_STEPUP_REQUIRED, "orders", {"account_id": account_id, "reason": "order_reported_not_mine"}
    )
    assert deliver_event(auth.client, auth.app, step_up).json()["status"] == "applied"

    account = seen(case_portal.browser.get("/account", headers=JA).text)
    events = seen(case_portal.browser.get("/security/events", headers=JA).text)

    assert "カード名義人" in account and "ギフトカード" in account
    assert_plain(account)
    assert "メールアドレスの変更" in events and "制限" in events and "ご自身で報告" in events
    assert "account restricted" not in events and "email change requested" not in events
    assert_plain(events)


def test_case_timelines_read_amounts_in_yen_and_what_was_done_in_words(case_portal: CasePortal) -> None:
    account_id = case_portal.customer("yuki@example.com")
    case_portal.verification.publish(
        "payment.held",
        {
            "order_id": uuid.uuid4().hex,
            "account_id": account_id,
            "amount": 100_000,
            "currency": "JPY",
            "card_last4": "4242",
            "holder_name": "Yuki Tanaka",
            "reasons": ["gift_or_top_up_over_limit", "cardholder_name_differs"],
        },
        source="orders",
    )
    case_portal.verification.publish(
        "order.reported_not_mine",
        {
            "order_id": uuid.uuid4().hex,
            "account_id": account_id,
            "case_id": uuid.uuid4().hex,
            "actions": ["cancelled", "refunded", "not_cancellable:digital_used"],
        },
        source="orders",
    )
    cases = {case["kind"]: case["id"] for case in case_portal.verification.cases(account_id)}

    held = seen(case_portal.browser.get(f"/cases/{cases['payment_verification']}", headers=JA).text)
    not_mine = seen(case_portal.browser.get(f"/cases/{cases['not_me']}", headers=JA).text)

    assert "100,000円" in held
    assert_plain(held)
    assert "ご注文をキャンセルしました" in not_mine and "返金しました" in not_mine
    assert_plain(not_mine)


def test_order_page_and_refund_pdf_show_yen_and_points_in_words(case_portal: CasePortal) -> None:
    account_id = case_portal.customer("hana@example.com")
    case_portal.orders.grant(account_id, "points", 300)
    case_portal.orders.grant(account_id, "gift_balance", 500)
    order = case_portal.place(
        account_id,
        [line("digital", 2_100, "E-book")],
        [{"kind": "points", "amount": 300}, {"kind": "gift_balance", "amount": 500}, card_tender(1_300)],
    )
    reported = case_portal.post(f"/orders/{order['id']}/not-me", {}, form_page=f"/orders/{order['id']}")
    assert reported.status_code == 303

    page = seen(case_portal.browser.get(f"/orders/{order['id']}", headers=JA).text)
    english = seen(case_portal.browser.get(f"/orders/{order['id']}", headers={"accept-language": "en"}).text)

    assert "2,100円" in page and "300ポイント" in page and "1,300円" in page
    assert "￥" not in page and "¥" not in page and "300円" not in page.replace("1,300円", "")
    assert "¥2,100" in english and "300 points" in english and "¥300" not in english
    assert_plain(page)
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) is not installed")
    pdf = case_portal.browser.get(f"/orders/{order['id']}/confirmation.pdf").content
    text = " ".join(
        subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode().split()
    )
    assert "ギフト残高 500円" in text and "カード 1,300円" in text and "ポイント 300ポイント" in text
    assert "¥1,300" in text and "300 points" in text
    assert_plain(text)


def test_the_footer_names_the_zone_in_words_and_waits_read_in_minutes_and_a_time_of_day(
    case_portal: CasePortal,
) -> None:
    japanese = seen(case_portal.browser.get("/signin", headers=JA).text)
    english = seen(case_portal.browser.get("/signin").text)
    case_portal.browser.cookies.set("mamori_zone", "Europe/London")
    london = seen(case_portal.browser.get("/signin", headers=JA).text)

    assert "時刻は日本時間で表示しています。" in japanese and "Asia/Tokyo" not in japanese
    assert "Times are shown in Japan Time." in english
    assert "イギリス時間" in london and "Europe/London" not in london
    reader = Reader("ja", ZoneInfo("Asia/Tokyo"))
    wait = reader.gettext(
        "Please try again in %(minutes)s min., at %(time)s.",
        minutes=reader.wait_minutes(847),
        time=reader.time_after(847),
    )
    assert "15" in wait and "秒" not in wait and re.search(r"\d{1,2}:\d{2}", wait)


def _audit_kinds() -> set[str]:
    """Every kind auth writes to the security events (read from its source: a new kind without
    words on the events page fails here)."""
    sources = [path.read_text() for path in Path("services/auth").rglob("*.py")]
    constants = {
        name: value for text in sources for name, value in re.findall(r'^([A-Z_]+) = "([a-z_]+)"$', text, re.M)
    }
    kinds = {"password_reset_opened", "account_unlocked", "passkey_required_off"}  # chosen in code, not literal
    for text in sources:
        for found in re.finditer(r'\brecord\(\s*db,\s*[\w.]+,\s*(?:"([a-z_]+)"|([\w.]+))', text):
            literal, name = found.groups()
            if literal:
                kinds.add(literal)
            elif name.rsplit(".", 1)[-1] in constants:
                kinds.add(constants[name.rsplit(".", 1)[-1]])
        kinds.update(re.findall(r'_audit\(db, account, "([a-z_]+)"', text))
    return kinds


def test_every_code_a_customer_can_meet_has_its_words() -> None:
    from services.auth.intrusion.policy import Move, Novelty
    from services.auth.signin.policy import StepUpReason

    named_events = set(re.findall(r'"([a-z_]+)": _\(', Path("portal/templates/events.html").read_text()))
    risk_codes = set(
        re.findall(r'Finding\(Outcome\.\w+, "([a-z_]+)"\)', Path("services/orders/risk/rules.py").read_text())
    )
    reasons = (
        risk_codes
        | {"order_reported_not_mine"}
        | {reason.value for reason in StepUpReason if reason.value != "staff"}
        | {signal.value for signal in (*Novelty, *Move)}
        | {"cancelled", "refunded", "authorisation_voided", "return_opened", "not_cancellable"}
    )

    assert len(risk_codes) >= 5 and len(_audit_kinds()) >= 25
    assert not _audit_kinds() - named_events, "security events without words on the events page"
    assert not reasons - set(REASON_WORDS), "reason codes without words"
    english, japanese = Reader("en", ZoneInfo("Asia/Tokyo")), Reader("ja", ZoneInfo("Asia/Tokyo"))
    for code in reasons:
        assert japanese.reason(code) != english.reason(code), f"{code} has no Japanese"
    assert japanese.reason("some_new_code") == "セキュリティ上の確認"
    assert japanese.reason("Gift card over 100,000 yen") == "Gift card over 100,000 yen", "free text stays as written"
