"""The specialists' review: queue, decisions with reasons the customer reads, rounds, the S3 story."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.verification import documents_support as docs
from tests.verification.conftest import VerificationHarness, make_harness

ALICE = "a" * 32
FIRST, SECOND, SUPPORT = "p" * 32, "q" * 32, "s" * 32
REDACTED = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka", "Tel: 03-1234-5678")


def decide(
    harness: VerificationHarness, case_id: str, specialist: str, decision: str, reason: str, **extra: Any
) -> Any:
    return harness.client.post(
        f"/api/verification/staff/cases/{case_id}/decision",
        headers=harness.as_user(specialist, "specialist"),
        json={"decision": decision, "reason_code": reason, **extra},
    )


def ready_case(harness: VerificationHarness) -> str:
    case_id = harness.hold_payment(ALICE, order_id="order-1")
    assert harness.upload(ALICE, case_id, docs.text_pdf(*REDACTED)).status_code == 201
    response = harness.client.post(
        f"/api/verification/cases/{case_id}/supplements",
        headers=harness.as_user(ALICE),
        json={"item": "billing_address", "value": "1-2-3 Shibuya, Tokyo"},
    )
    assert response.status_code == 200 and response.json()["state"] == "in_review"
    return case_id


def test_s3_in_process_upload_supplement_review_approve(verification: VerificationHarness) -> None:
    case_id = ready_case(verification)
    submitted = verification.notices(ALICE)[-1]
    assert "Everything needed is here" in submitted["body_en"] and "{due_at}" in submitted["body_en"]

    queue = verification.client.get("/api/verification/staff/queue", headers=verification.as_user(FIRST, "specialist"))
    [item] = queue.json()["items"]
    assert item["id"] == case_id and item["outstanding"] == []
    assert {"document_checked", "supplement_added", "submitted"} <= {
        entry["kind"] for entry in item["changes_since_review"]
    }

    review = verification.client.get(
        f"/api/verification/staff/cases/{case_id}", headers=verification.as_user(FIRST, "specialist")
    )
    assert review.status_code == 200
    assert len(review.json()["documents"]) == 1
    assert review.json()["supplements"] == [{"item": "billing_address", "value": "1-2-3 Shibuya, Tokyo"}]
    queue = verification.client.get("/api/verification/staff/queue", headers=verification.as_user(FIRST, "specialist"))
    assert queue.json()["items"][0]["changes_since_review"] == []  # the review itself is not news

    approved = decide(verification, case_id, FIRST, "approve", "verified")
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    assert {item["status"] for item in approved.json()["checklist"]} == {"accepted"}
    [event] = verification.sent("case.approved", subscriber="orders")
    assert event["order_ids"] == ["order-1"] and event["order_action"] == "release"
    assert verification.sent("case.approved", subscriber="auth") == [event]
    told = verification.notices(ALICE)[-1]
    assert "approved" in told["body_en"] and "Your held orders go ahead." in told["body_en"]
    assert "ご提出いただいた内容" in told["body_ja"]
    # Audited: who reviewed and decided, invisible to the customer.
    staff_view = verification.client.get(
        f"/api/verification/staff/cases/{case_id}", headers=verification.as_user(FIRST, "specialist")
    )
    assert {"reviewed", "decision"} <= {entry["kind"] for entry in staff_view.json()["timeline"]}
    customer_view = verification.case(ALICE, case_id)
    assert not {"reviewed", "decision"} & {entry["kind"] for entry in customer_view["timeline"]}
    assert verification.upload(ALICE, case_id, docs.text_pdf(*REDACTED)).status_code == 409


def test_rounds_then_a_final_rejection_by_two_specialists_closes_the_account(verification: VerificationHarness) -> None:
    case_id = ready_case(verification)
    for left in (2, 1):
        response = decide(verification, case_id, FIRST, "reject", "statement_unreadable")
        assert response.json()["state"] == "more_needed"
        told = verification.notices(ALICE)[-1]
        assert "We could not read the statement" in told["body_en"] and f"({left} attempt(s) left)" in told["body_en"]
        assert verification.case(ALICE, case_id)["checklist"][0]["reason_code"] == "statement_unreadable"
        assert verification.upload(ALICE, case_id, docs.text_pdf(*REDACTED)).status_code == 201
        assert verification.case(ALICE, case_id)["state"] == "in_review"

    proposed = decide(verification, case_id, FIRST, "reject", "cardholder_not_confirmed")
    assert proposed.json()["state"] == "in_review" and proposed.json()["rejection_proposed_by"] == FIRST
    same = decide(verification, case_id, FIRST, "reject", "cardholder_not_confirmed")
    assert (same.status_code, same.json()["code"]) == (409, "second_specialist_required")
    assert verification.sent("case.rejected") == []

    final = decide(verification, case_id, SECOND, "reject", "cardholder_not_confirmed")
    assert final.json()["state"] == "rejected"
    [event] = verification.sent("case.rejected", subscriber="auth")
    assert event["close_account"] is True and event["order_ids"] == ["order-1"]
    assert event["reason_code"] == "cardholder_not_confirmed"
    told = verification.notices(ALICE)[-1]
    assert "could not confirm the cardholder" in told["body_en"] and "account will be closed" in told["body_en"]


def test_decisions_are_for_specialists_and_need_a_catalogue_reason(verification: VerificationHarness) -> None:
    case_id = ready_case(verification)
    support = verification.client.post(
        f"/api/verification/staff/cases/{case_id}/decision",
        headers=verification.as_user(SUPPORT, "support"),
        json={"decision": "approve", "reason_code": "verified"},
    )
    assert support.status_code == 403
    customer = verification.client.post(
        f"/api/verification/staff/cases/{case_id}/decision",
        headers=verification.as_user(ALICE),
        json={"decision": "approve", "reason_code": "verified"},
    )
    assert customer.status_code == 403
    wrong = decide(verification, case_id, FIRST, "approve", "statement_unreadable")
    assert (wrong.status_code, wrong.json()["code"]) == (422, "unknown_reason")
    assert verification.case(ALICE, case_id)["state"] == "in_review"


def test_support_notes_and_escalation_stay_on_the_one_case(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    support = verification.as_user(SUPPORT, "support")
    note = verification.client.post(
        f"/api/verification/staff/cases/{case_id}/notes",
        headers=support,
        json={"note": "Customer called, statement coming by post"},
    )
    assert note.status_code == 201
    escalated = verification.client.post(
        f"/api/verification/staff/cases/{case_id}/escalation", headers=support, json={"note": "Please review today"}
    )
    assert escalated.status_code == 200
    queue = verification.client.get("/api/verification/staff/queue", headers=verification.as_user(FIRST, "specialist"))
    assert [item["id"] for item in queue.json()["items"]] == [case_id]
    customer = verification.case(ALICE, case_id)["timeline"]
    assert [entry["kind"] for entry in customer][-1] == "escalated"
    assert "Customer called" not in str(customer)
    assert "passed your case on" in verification.notices(ALICE)[-1]["body_en"]


def test_the_queue_is_ordered_by_promised_time(verification: VerificationHarness) -> None:
    early = ready_case(verification)
    verification.clock.advance(hours=1)
    late_account = "c" * 32
    late = verification.hold_payment(late_account, order_id="order-9")
    verification.upload(late_account, late, docs.text_pdf(*REDACTED))
    verification.client.post(
        f"/api/verification/cases/{late}/supplements",
        headers=verification.as_user(late_account),
        json={"item": "billing_address", "value": "Osaka"},
    )
    queue = verification.client.get("/api/verification/staff/queue", headers=verification.as_user(FIRST, "specialist"))
    assert [item["id"] for item in queue.json()["items"]] == [early, late]


def test_notes_and_callback_requests_never_hold_a_card_number(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    before = verification.client.get(
        f"/api/verification/staff/cases/{case_id}/status", headers=verification.as_user(SUPPORT, "support")
    ).json()["timeline"]
    note = verification.client.post(
        f"/api/verification/staff/cases/{case_id}/notes",
        headers=verification.as_user(SUPPORT, "support"),
        json={"note": "caller read out 4111 1111 1111 1111"},
    )
    assert (note.status_code, note.json()["code"]) == (422, "card_number_visible")
    callback = verification.client.post(
        "/api/verification/callbacks",
        headers=verification.as_user(ALICE),
        json={"phone": "03-1234-5678", "case_id": case_id, "note": "my card is 5555 5555 5555 4444"},
    )
    assert (callback.status_code, callback.json()["code"]) == (422, "card_number_visible")
    after = verification.client.get(
        f"/api/verification/staff/cases/{case_id}/status", headers=verification.as_user(SUPPORT, "support")
    ).json()["timeline"]
    assert [entry["kind"] for entry in after] == [entry["kind"] for entry in before] + ["status_viewed"]


@pytest.mark.postgres
def test_s3_in_process_on_postgresql(data_dir: Path, postgres_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAMORI_VERIFICATION_DATABASE_URL", postgres_database)
    for harness in make_harness(data_dir):
        assert harness.app.state.db.engine.dialect.name == "postgresql"
        test_s3_in_process_upload_supplement_review_approve(harness)
