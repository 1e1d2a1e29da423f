"""Idempotency-Key on uploads, supplements, callbacks and decisions: a replay gets the first answer."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from services.verification.cases import flows as case_flows
from tests.verification import documents_support as docs
from tests.verification.conftest import VerificationHarness

ALICE, SPECIALIST = "a" * 32, "p" * 32
#: Only turns a hang into a failure.
HANG = 30.0
REDACTED = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka", "Tel: 03-1234-5678")


def test_a_replayed_upload_keeps_one_document_and_answers_the_same(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    url = f"/api/verification/cases/{case_id}/documents"
    headers = {**verification.as_user(ALICE), "Idempotency-Key": "upload-1"}
    files = {"file": ("statement.pdf", docs.text_pdf(*REDACTED), "application/pdf")}
    first = verification.client.post(url, headers=headers, files=files)
    again = verification.client.post(url, headers=headers, files=files)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers.get("idempotent-replayed") == "true"
    assert len(verification.case(ALICE, case_id)["documents"]) == 1
    assert len(list((verification.data_dir / "documents").glob("*.bin"))) == 1

    other = verification.client.post(
        url, headers=headers, files={"file": ("other.pdf", docs.text_pdf("Another"), "application/pdf")}
    )
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


def test_a_replayed_decision_decides_once(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    verification.upload(ALICE, case_id, docs.text_pdf(*REDACTED))
    verification.client.post(
        f"/api/verification/cases/{case_id}/supplements",
        headers={**verification.as_user(ALICE), "Idempotency-Key": "address"},
        json={"item": "billing_address", "value": "Tokyo"},
    )
    url = f"/api/verification/staff/cases/{case_id}/decision"
    headers = {**verification.as_user(SPECIALIST, "specialist"), "Idempotency-Key": "decide-1"}
    first = verification.client.post(url, headers=headers, json={"decision": "approve", "reason_code": "verified"})
    again = verification.client.post(url, headers=headers, json={"decision": "approve", "reason_code": "verified"})
    assert first.status_code == again.status_code == 200 and again.json()["state"] == "approved"
    assert len(verification.sent("case.approved", subscriber="orders")) == 1
    without_key = verification.client.post(
        url,
        headers=verification.as_user(SPECIALIST, "specialist"),
        json={"decision": "approve", "reason_code": "verified"},
    )
    assert (without_key.status_code, without_key.json()["code"]) == (409, "invalid_transition")


def test_a_refused_request_is_not_remembered(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    url = f"/api/verification/cases/{case_id}/supplements"
    headers = {**verification.as_user(ALICE), "Idempotency-Key": "retry-me"}
    refused = verification.client.post(
        url, headers=headers, json={"item": "billing_address", "value": "4111 1111 1111 1111"}
    )
    assert refused.status_code == 422
    fixed = verification.client.post(url, headers=headers, json={"item": "billing_address", "value": "Tokyo"})
    assert fixed.status_code == 200, fixed.text  # the refusal changed nothing, the key included
    assert fixed.json()["checklist"][2]["status"] == "received"


def test_a_duplicate_sent_while_the_first_still_runs_gets_409_and_changes_nothing(
    verification: VerificationHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = verification.hold_payment(ALICE)
    url = f"/api/verification/cases/{case_id}/supplements"
    headers = {**verification.as_user(ALICE), "Idempotency-Key": "double-click"}
    body = {"item": "billing_address", "value": "Tokyo"}
    entered, release = threading.Event(), threading.Event()
    original = case_flows.add_supplement

    def held_open(*args: Any, **kwargs: Any) -> Any:  # the first call is mid-work when the duplicate lands
        entered.set()
        release.wait(HANG)
        return original(*args, **kwargs)

    monkeypatch.setattr(case_flows, "add_supplement", held_open)
    answers: list[Any] = []
    first = threading.Thread(target=lambda: answers.append(verification.client.post(url, headers=headers, json=body)))
    first.start()
    try:
        assert entered.wait(HANG)
        duplicate = verification.client.post(url, headers=headers, json=body)
    finally:
        release.set()
        first.join(HANG)
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "idempotency_in_progress")
    assert answers[0].status_code == 200, answers[0].text

    monkeypatch.setattr(case_flows, "add_supplement", original)
    replay = verification.client.post(url, headers=headers, json=body)
    assert replay.status_code == 200 and replay.json() == answers[0].json()
    assert replay.headers.get("idempotent-replayed") == "true"
    timeline = verification.case(ALICE, case_id)["timeline"]
    assert sum(1 for entry in timeline if "supplement" in str(entry).lower()) == 1
