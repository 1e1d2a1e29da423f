"""Documents are shared by every verification replica on PostgreSQL (``document_blobs``), kept
encrypted, and purged there; the embedded default keeps them in the data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from infra import cli
from services.verification.documents.blob_stores import DatabaseBlobStore, DirectoryBlobStore, DocumentBlob
from tests.verification import documents_support as docs
from tests.verification.conftest import VerificationHarness, make_harness

ALICE, SPECIALIST = "a" * 32, "p" * 32
REDACTED = ("Monthly statement", "Card: **** **** **** 4242", "Name: Yuki Tanaka", "Tel: 03-1234-5678")


def _upload(harness: VerificationHarness) -> tuple[str, str, bytes]:
    case_id = harness.hold_payment(ALICE)
    content = docs.text_pdf(*REDACTED)
    response = harness.upload(ALICE, case_id, content)
    assert response.status_code == 201, response.text
    return case_id, response.json()["id"], content


def _download(harness: VerificationHarness, document_id: str) -> tuple[int, bytes]:
    response = harness.client.get(
        f"/api/verification/staff/documents/{document_id}", headers=harness.as_user(SPECIALIST, "specialist")
    )
    return response.status_code, response.content


def _approve(harness: VerificationHarness, case_id: str) -> None:
    harness.client.post(
        f"/api/verification/cases/{case_id}/supplements",
        headers=harness.as_user(ALICE),
        json={"item": "billing_address", "value": "Tokyo"},
    )
    decided = harness.client.post(
        f"/api/verification/staff/cases/{case_id}/decision",
        headers=harness.as_user(SPECIALIST, "specialist"),
        json={"decision": "approve", "reason_code": "verified"},
    )
    assert decided.json()["state"] == "approved", decided.text


@pytest.mark.postgres
def test_a_document_one_replica_received_is_read_and_purged_through_another(
    tmp_path: Path, postgres_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAMORI_VERIFICATION_DATABASE_URL", postgres_database)
    keys = "k1:" + "A" * 43  # both replicas are configured with the same keys, as in production
    monkeypatch.setenv("MAMORI_VERIFICATION_DOCUMENT_KEYS", keys)
    first_dir, second_dir = tmp_path / "replica-0", tmp_path / "replica-1"
    first_dir.mkdir()
    second_dir.mkdir()
    monkeypatch.setenv("MAMORI_DATA_DIR", str(first_dir))

    for first in make_harness(first_dir):
        assert isinstance(first.app.state.verification.store.blobs, DatabaseBlobStore)
        case_id, document_id, _uploaded = _upload(first)
        _approve(first, case_id)
        kept = _download(first, document_id)
        assert kept[0] == 200 and kept[1].startswith(b"%PDF")  # the rendering is kept, not the upload
        for second in make_harness(second_dir):
            assert _download(second, document_id) == kept, "the other replica reads the same document"
            assert not any(first_dir.rglob("*.bin")) and not any(second_dir.rglob("*.bin"))
            with second.app.state.db.session() as db:
                stored = db.scalar(select(DocumentBlob.ciphertext).where(DocumentBlob.document_id == document_id))
            assert stored is not None and b"Yuki Tanaka" not in stored and b"%PDF" not in stored

            monkeypatch.setenv("MAMORI_RETENTION_DAYS", "0")
            assert cli.main(["purge"]) == 0
            assert "Purged 1 document(s)" in capsys.readouterr().out
            with second.app.state.db.session() as db:
                assert db.scalar(select(DocumentBlob).where(DocumentBlob.document_id == document_id)) is None
            assert _download(first, document_id)[0] == 404
            assert _download(second, document_id)[0] == 404


def test_the_embedded_default_keeps_documents_in_the_data_directory_and_purges_them_there(
    verification: VerificationHarness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert isinstance(verification.app.state.verification.store.blobs, DirectoryBlobStore)
    case_id, document_id, content = _upload(verification)
    stored = verification.data_dir / "documents" / f"{document_id}.bin"
    assert stored.is_file() and b"Yuki Tanaka" not in stored.read_bytes()
    kept = _download(verification, document_id)
    assert kept[0] == 200 and kept[1].startswith(b"%PDF") and kept[1] != content  # the rendering
    _approve(verification, case_id)

    monkeypatch.setenv("MAMORI_RETENTION_DAYS", "0")
    assert cli.main(["purge"]) == 0
    assert "Purged 1 document(s)" in capsys.readouterr().out
    assert not stored.exists()
    assert _download(verification, document_id)[0] == 404
