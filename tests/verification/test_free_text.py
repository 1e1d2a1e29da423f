"""Every free text verification keeps runs the card-number detector (issue 17, point 3).

Typed supplements, the callback's phone and note, staff notes, decision and hand-over notes are
refused with ``422 card_number_visible`` when they hold a full card number, in any of the ways
people write one, and nothing is kept; text other services send is masked; a document's file
name is kept only masked and never put in a message. Last, the service's SQLite files (the
``-wal`` included) are read byte by byte for the digits.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from mamori_common.card_numbers import find_card_numbers
from mamori_common.problems import Problem
from services.verification.cases.models import Case, ChecklistItem, TimelineEntry
from services.verification.cases.phones import callback_phone, declared_pattern
from tests.verification import documents_support as docs
from tests.verification.conftest import VerificationHarness, make_harness

ALICE, SPECIALIST, SUPPORT = "a" * 32, "p" * 32, "s" * 32
REDACTED = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka", "Tel: 03-1234-5678")

#: One card number per writing, each a different number, so the byte search below can tell them apart.
WRITTEN = {
    "spaces": ("4556 7375 8689 9855", "4556737586899855"),
    "dots": ("5425.2334.3010.9903", "5425233430109903"),
    "wrapped": ("3530 1113\r\n3330 0000", "3530111333300000"),
    "zero_width": ("6011\u200b0009\u200b9013\u200b9424", "6011000990139424"),
    "soft_hyphens": ("2223\u00ad0000\u00ad4841\u00ad0010", "2223000048410010"),
    "arabic_indic": ("٤٩١٧ ٤٨٤٥ ٨٩٨٩ ٧١٠٧", "4917484589897107"),
    "fullwidth": ("３７１４　４９６３５３　９８４３１", "371449635398431"),
    "underscores": ("6062_8288_8866_6688", "6062828888666688"),
}
FORMS = pytest.mark.parametrize("form", sorted(WRITTEN))


def test_the_numbers_used_here_are_full_card_numbers() -> None:
    for written, digits in WRITTEN.values():
        [match] = find_card_numbers(written)
        assert match.length == len(digits) and match.last4 == digits[-4:]


def refused(response: Any, *fields: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "card_number_visible" and body["fields"] == list(fields)
    assert body["detail"] and body["detail_ja"], "explained in English and Japanese"
    assert not any(digits[-8:] in response.text for _, digits in WRITTEN.values()), "never echoed"


def timeline_count(harness: VerificationHarness) -> int:
    with harness.app.state.db.session() as db:
        return int(db.scalar(select(func.count()).select_from(TimelineEntry)) or 0)


def kept_values(harness: VerificationHarness) -> list[str | None]:
    with harness.app.state.db.session() as db:
        return list(db.scalars(select(ChecklistItem.value)))


@FORMS
def test_a_supplement_with_a_card_number_is_refused_and_nothing_is_kept(
    verification: VerificationHarness, form: str
) -> None:
    case_id = verification.hold_payment(ALICE)
    entries, notices = timeline_count(verification), len(verification.notices(ALICE))
    response = verification.client.post(
        f"/api/verification/cases/{case_id}/supplements",
        headers=verification.as_user(ALICE),
        json={"item": "cardholder_phone", "value": f"Tokyo {WRITTEN[form][0]}"},
    )
    refused(response, "supplement")
    assert kept_values(verification) == [None] * 4
    assert timeline_count(verification) == entries and len(verification.notices(ALICE)) == notices


@FORMS
def test_a_callback_note_with_a_card_number_is_refused_and_no_case_is_opened(
    verification: VerificationHarness, form: str
) -> None:
    response = verification.client.post(
        "/api/verification/callbacks",
        headers=verification.as_user(ALICE),
        json={"phone": "090-1234-5678", "note": f"card {WRITTEN[form][0]} was charged"},
    )
    refused(response, "note")
    assert verification.cases(ALICE) == [] and timeline_count(verification) == 0


@FORMS
def test_a_card_number_typed_as_the_callback_phone_is_refused_as_a_card_number(
    verification: VerificationHarness, form: str
) -> None:
    response = verification.client.post(
        "/api/verification/callbacks",
        headers=verification.as_user(ALICE),
        json={"phone": WRITTEN[form][0]},
    )
    refused(response, "phone")
    assert verification.cases(ALICE) == []


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("090-1234-5678", "090-1234-5678"),
        ("+81 90 1234 5678", "+81 90 1234 5678"),
        ("(03) 1234-5678", "(03) 1234-5678"),
        ("+81 (0)3-1234-5678", "+81 (0)3-1234-5678"),
        ("+1 415.555.0100", "+1 415.555.0100"),
        ("０９０－１２３４－５６７８", "090-1234-5678"),  # typed in full width
        ("  0312345678 ", "0312345678"),
        ("+442079460958", "+442079460958"),
    ],
)
def test_a_phone_staff_can_dial_is_accepted_and_kept_in_ascii(
    verification: VerificationHarness, typed: str, kept: str
) -> None:
    response = verification.client.post(
        "/api/verification/callbacks", headers=verification.as_user(ALICE), json={"phone": typed}
    )
    assert response.status_code == 201, response.text
    with verification.app.state.db.session() as db:
        [details] = db.scalars(select(TimelineEntry.details).where(TimelineEntry.kind == "opened_callback"))
    assert details["phone"] == kept


@pytest.mark.parametrize(
    "typed",
    [
        "call me",
        "12345",  # too short for any number
        "123456",
        "1234567890123456",  # 16 digits: longer than E.164 allows (and no card)
        "090-1234-5678 ext. 12",
        "090--1234--5678",
        "+81+90 1234 5678",
        "090/1234/5678",
        "tel:09012345678",
        "<script>",
        "0" * 40,
    ],
)
def test_anything_but_a_phone_is_refused_in_both_languages_and_nothing_is_kept(
    verification: VerificationHarness, typed: str
) -> None:
    response = verification.client.post(
        "/api/verification/callbacks", headers=verification.as_user(ALICE), json={"phone": typed}
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_phone" and body["field"] == "phone"
    assert "7 to 15 digits" in body["detail"] and "7〜15桁" in body["detail_ja"]
    assert typed not in response.text, "a refused phone is not echoed"
    assert verification.cases(ALICE) == [] and timeline_count(verification) == 0


@FORMS
def test_staff_notes_decision_notes_and_hand_over_notes_with_a_card_number_are_refused(
    verification: VerificationHarness, form: str
) -> None:
    case_id = verification.hold_payment(ALICE)
    assert verification.upload(ALICE, case_id, docs.text_pdf(*REDACTED)).status_code == 201
    entries = timeline_count(verification)
    text = f"caller read out {WRITTEN[form][0]}"
    support, specialist = verification.as_user(SUPPORT, "support"), verification.as_user(SPECIALIST, "specialist")
    staff = f"/api/verification/staff/cases/{case_id}"
    refused(verification.client.post(f"{staff}/notes", headers=support, json={"note": text}), "note")
    refused(verification.client.post(f"{staff}/escalation", headers=support, json={"note": text}), "note")
    decision = {"decision": "request_more", "reason_code": "statement_unreadable", "note": text}
    refused(verification.client.post(f"{staff}/decision", headers=specialist, json=decision), "note")
    assert timeline_count(verification) == entries
    with verification.app.state.db.session() as db:
        kinds = set(db.scalars(select(TimelineEntry.kind)))
    assert not kinds & {"note", "escalation_note", "decision", "more_needed"}


def test_text_other_services_send_is_kept_with_the_card_digits_masked(verification: VerificationHarness) -> None:
    """A refused event would be parked with the case it opens; so its free text is masked instead."""
    case_id = verification.hold_payment(ALICE, holder_name="Yuki 4556 7375 8689 9855 Tanaka")
    with verification.app.state.db.session() as db:
        case = db.get(Case, case_id)
        assert case is not None and case.holder_name == "Yuki xxxx xxxx xxxx xxxx Tanaka"
    verification.publish(
        "account.frozen",
        {"account_id": ALICE, "kind": "intrusion", "reason": "Reported card 5425.2334.3010.9903 stolen"},
    )
    [intrusion] = [case for case in verification.cases(ALICE) if case["kind"] == "intrusion"]
    summaries = [entry["summary"]["en"] for entry in verification.case(ALICE, intrusion["id"])["timeline"]]
    assert any("xxxx.xxxx.xxxx.xxxx" in summary for summary in summaries)
    assert not any("5425" in summary for summary in summaries)


def test_a_file_name_is_kept_only_masked_and_never_put_in_a_message(verification: VerificationHarness) -> None:
    case_id = verification.hold_payment(ALICE)
    response = verification.upload(
        ALICE, case_id, docs.text_pdf(*REDACTED), filename="statement 4556.7375.8689.9855 private-name.pdf"
    )
    assert response.status_code == 201, response.text
    [document] = verification.case(ALICE, case_id)["documents"]
    assert "4556" not in document["filename"] and "9855" not in document["filename"]
    detail = verification.case(ALICE, case_id)
    told = [entry["summary"][language] for entry in detail["timeline"] for language in ("ja", "en")]
    mails = [notice[key] for notice in verification.notices(ALICE) for key in ("body_ja", "body_en", "subject_ja")]
    assert any("1 page" in text for text in told + mails), "the upload was told"
    for text in told + mails:
        assert "private-name" not in text and "4556" not in text and "9855" not in text, text


def sqlite_bytes(data_dir: Path) -> bytes:
    """Every byte of the service's SQLite files: the database, its -wal and -shm."""
    files = [path for path in data_dir.rglob("*.db*") if path.is_file()]
    assert any(path.name.endswith(".db-wal") for path in files), files
    return b"".join(path.read_bytes() for path in files)


def test_after_every_refused_attempt_no_card_digits_are_anywhere_in_the_database_files(data_dir: Path) -> None:
    for harness in make_harness(data_dir):
        case_id = harness.hold_payment(ALICE)
        support = harness.as_user(SUPPORT, "support")
        for written, _ in WRITTEN.values():
            for path, body, headers in (
                (f"/api/verification/cases/{case_id}/supplements", {"item": "billing_address", "value": written}, None),
                ("/api/verification/callbacks", {"phone": written}, None),
                ("/api/verification/callbacks", {"phone": "090-1234-5678", "note": written, "case_id": case_id}, None),
                (f"/api/verification/staff/cases/{case_id}/notes", {"note": written}, support),
            ):
                answer = harness.client.post(path, headers=headers or harness.as_user(ALICE), json=body)
                assert answer.status_code == 422, answer.text
        # What was accepted is there (the search below can find text): a phone and an address.
        assert (
            harness.client.post(
                "/api/verification/callbacks", headers=harness.as_user(ALICE), json={"phone": "090-8765-4321"}
            ).status_code
            == 201
        )
        stored = sqlite_bytes(data_dir)
        assert b"090-8765-4321" in stored
        for written, digits in WRITTEN.values():
            for needle in {written, json.dumps(written)[1:-1], digits, digits[:8], digits[-8:]}:
                assert needle.encode() not in stored, needle


_TYPED = st.text(
    alphabet=st.sampled_from([*"0123456789 -.+()x/", "０", "５", "－", "\u3000", "٣", "\u200b", "\t", "\n", "\x1c"]),
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@given(typed=_TYPED)
def test_the_declared_phone_pattern_is_exactly_what_a_callback_accepts(typed: str) -> None:
    """The OpenAPI's ``pattern`` for the phone and the check agree on every string (full width,
    Arabic-Indic digits, separators and all), so no phone the contract allows is refused."""
    try:
        callback_phone(typed)
        accepted = True
    except Problem:
        accepted = False
    assert (re.fullmatch(declared_pattern(), typed) is not None) is accepted
