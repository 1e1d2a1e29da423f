"""``mamori purge``: documents of cases ended longer ago than the retention period are deleted."""

from __future__ import annotations

import pytest

from infra import cli
from tests.verification import documents_support as docs
from tests.verification.conftest import VerificationHarness

ALICE, BOB, SPECIALIST = "a" * 32, "b" * 32, "p" * 32
REDACTED = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka", "Tel: 03-1234-5678")


def _upload(harness: VerificationHarness, account: str) -> tuple[str, str]:
    case_id = harness.hold_payment(account)
    response = harness.upload(account, case_id, docs.text_pdf(*REDACTED))
    assert response.status_code == 201
    return case_id, response.json()["id"]


def test_purge_deletes_only_documents_past_retention_after_their_case_ended(
    verification: VerificationHarness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ended_case, ended_document = _upload(verification, ALICE)
    _, open_document = _upload(verification, BOB)
    verification.client.post(
        f"/api/verification/cases/{ended_case}/supplements",
        headers=verification.as_user(ALICE),
        json={"item": "billing_address", "value": "Tokyo"},
    )
    decided = verification.client.post(
        f"/api/verification/staff/cases/{ended_case}/decision",
        headers=verification.as_user(SPECIALIST, "specialist"),
        json={"decision": "approve", "reason_code": "verified"},
    )
    assert decided.json()["state"] == "approved"
    folder = verification.data_dir / "documents"

    assert cli.main(["purge"]) == 0  # default 90 days: nothing is old enough
    assert "Purged 0 document(s)" in capsys.readouterr().out
    assert {path.stem for path in folder.glob("*.bin")} == {ended_document, open_document}

    monkeypatch.setenv("MAMORI_RETENTION_DAYS", "0")
    assert cli.main(["purge"]) == 0
    assert "Purged 1 document(s)" in capsys.readouterr().out
    assert {path.stem for path in folder.glob("*.bin")} == {open_document}
    specialist = verification.as_user(SPECIALIST, "specialist")
    gone = verification.client.get(f"/api/verification/staff/documents/{ended_document}", headers=specialist)
    assert gone.status_code == 404
    assert (
        verification.client.get(f"/api/verification/staff/documents/{open_document}", headers=specialist).status_code
        == 200
    )
    assert verification.case(ALICE, ended_case)["documents"][0]["purged"] is True


def test_purge_sweeps_files_an_upload_left_without_a_row(
    verification: VerificationHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file written just before its transaction failed: unreadable without its row, and deleted."""
    import os
    import time

    _, kept = _upload(verification, ALICE)
    store = verification.app.state.verification.store
    with verification.app.state.db.session() as db:
        store.put(db, "0" * 32, b"left over")
        stale = time.time() - 2 * 3600
        os.utime(store.blobs.path("0" * 32), (stale, stale))
        store.put(db, "1" * 32, b"still being written by a request")  # too recent to judge
    assert cli.main(["purge"]) == 0
    assert "Purged 1 document(s)" in capsys.readouterr().out
    assert {path.stem for path in (verification.data_dir / "documents").glob("*.bin")} == {kept, "1" * 32}
