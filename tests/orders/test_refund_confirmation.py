"""The refund confirmation a customer hands to a card issuer: JSON in UTC, a PDF in their zone."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.orders.refunds import confirmation
from tests.orders.harness import OrdersHarness, card_tender, line


def pdf_text(content: bytes) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) is not installed")
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()


def refunded_order(orders: OrdersHarness) -> tuple[dict[str, Any], dict[str, str]]:
    customer = orders.customer()
    orders.grant(customer.account_id, "points", 200)
    order = orders.place(
        customer, [line("physical", 1_200)], [{"kind": "points", "amount": 200}, card_tender(1_000, last4="1881")]
    ).json()
    assert orders.client.post(f"/api/orders/orders/{order['id']}/cancel", headers=customer.headers()).status_code == 200
    return order, customer.headers()


def test_json_names_amounts_per_tender_dates_in_utc_and_a_reference(orders: OrdersHarness) -> None:
    order, headers = refunded_order(orders)
    body = orders.client.get(f"/api/orders/orders/{order['id']}/refund-confirmation", headers=headers).json()
    assert body["reference_code"] == confirmation.reference_code(order["id"])
    assert body["refunded_total"] == body["order_total"] == 1_200
    assert {(t["tender"], t["paid"], t["refunded"], t["card_last4"]) for t in body["tenders"]} == {
        ("points", 200, 200, None),
        ("card", 1_000, 1_000, "1881"),
    }
    assert datetime.fromisoformat(body["refunds"][0]["created_at"]) == orders.clock.now()
    assert body["refunds"][0]["created_at"].endswith("Z") or body["refunds"][0]["created_at"].endswith("+00:00")


def test_pdf_is_printable_in_japanese_and_english_with_times_in_the_customers_zone(orders: OrdersHarness) -> None:
    if confirmation.cjk_font() is None:
        pytest.skip("no Noto Sans CJK font on this machine (Debian fonts-noto-cjk)")
    order, headers = refunded_order(orders)
    response = orders.client.get(
        f"/api/orders/orders/{order['id']}/refund-confirmation", params={"format": "pdf"}, headers=headers
    )
    assert response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "返金確認書" in text and "Refund confirmation" in text
    assert confirmation.reference_code(order["id"]) in text and "****1881" in text
    tokyo = orders.clock.now().astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M (Asia/Tokyo)")
    assert tokyo in text, "the refund's time as the customer reads it, not bare UTC"


def test_without_the_japanese_font_the_pdf_is_english_and_says_so(
    orders: OrdersHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(confirmation, "cjk_font", lambda: None)
    order, headers = refunded_order(orders)
    response = orders.client.get(
        f"/api/orders/orders/{order['id']}/refund-confirmation", params={"format": "pdf"}, headers=headers
    )
    text = pdf_text(response.content)
    assert "Refund confirmation" in text and "English only" in text


def test_an_order_without_refunds_has_no_confirmation(orders: OrdersHarness) -> None:
    customer = orders.customer()
    order = orders.place(customer, [line("physical", 500)], [card_tender(500)]).json()
    response = orders.client.get(f"/api/orders/orders/{order['id']}/refund-confirmation", headers=customer.headers())
    assert (response.status_code, response.json()["code"]) == (404, "no_refunds")
