"""Where the encrypted bytes of a kept document live: one small interface, two places.

Every replica of the verification service must read a document any replica received, so in the
production shape (PostgreSQL) the ciphertext goes into the ``document_blobs`` table, written in the
same transaction as its ``documents`` row: an upload that fails leaves neither. The embedded
default (SQLite, one process) keeps files under ``<data dir>/documents``. An S3-compatible store
implements the same :class:`BlobStore` (``put`` an object, ``get`` it, ``delete`` it, list what is
there for the orphan sweep) and ignores the session.

A store sees only ciphertext: encryption, keys and the document id as associated data stay in
:mod:`services.verification.documents.storage`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import ForeignKey, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from mamori_common.db import UTCDateTime, rows_changed, utcnow
from services.verification.database import Base


class BlobMissing(LookupError):
    """A blob a documents row names is not in the store (purged, or lost with a disk)."""


class BlobStore(Protocol):
    """Encrypted document bytes by document id. ``db`` is the request's session: a store inside the
    database writes in its transaction; a store outside it (files, S3) ignores it."""

    def put(self, db: Session, document_id: str, blob: bytes) -> None: ...

    def get(self, db: Session, document_id: str) -> bytes: ...

    def delete(self, db: Session, document_id: str) -> bool: ...

    def stored(self, db: Session) -> list[tuple[str, datetime]]:
        """(document id, when stored) of every blob, for the sweep of blobs no row names."""
        ...


class DocumentBlob(Base):
    """One encrypted document (``nonce || ciphertext+tag``), deleted with its row or at purge."""

    __tablename__ = "document_blobs"

    document_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


@dataclass(frozen=True)
class DatabaseBlobStore:
    """Blobs in the service's own database: shared by every replica, atomic with the upload."""

    def put(self, db: Session, document_id: str, blob: bytes) -> None:
        db.merge(DocumentBlob(document_id=document_id, ciphertext=blob, stored_at=utcnow()))
        db.flush()

    def get(self, db: Session, document_id: str) -> bytes:
        blob = db.scalar(select(DocumentBlob.ciphertext).where(DocumentBlob.document_id == document_id))
        if blob is None:
            raise BlobMissing(document_id)
        return bytes(blob)

    def delete(self, db: Session, document_id: str) -> bool:
        return rows_changed(db.execute(delete(DocumentBlob).where(DocumentBlob.document_id == document_id))) > 0

    def stored(self, db: Session) -> list[tuple[str, datetime]]:
        return [
            (row.document_id, row.stored_at)
            for row in db.execute(select(DocumentBlob.document_id, DocumentBlob.stored_at))
        ]


@dataclass(frozen=True)
class DirectoryBlobStore:
    """Files under one directory, named by document id (the embedded default: one machine)."""

    root: Path

    def path(self, document_id: str) -> Path:
        return self.root / f"{document_id}.bin"

    def put(self, db: Session, document_id: str, blob: bytes) -> None:
        """Written whole, then renamed into place: a reader never sees half a file."""
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self.root / f".{document_id}.partial"
        partial.write_bytes(blob)
        os.replace(partial, self.path(document_id))

    def get(self, db: Session, document_id: str) -> bytes:
        try:
            return self.path(document_id).read_bytes()
        except FileNotFoundError as exc:
            raise BlobMissing(document_id) from exc

    def delete(self, db: Session, document_id: str) -> bool:
        try:
            self.path(document_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def stored(self, db: Session) -> list[tuple[str, datetime]]:
        if not self.root.is_dir():
            return []
        return [(path.stem, datetime.fromtimestamp(path.stat().st_mtime, UTC)) for path in self.root.glob("*.bin")]
