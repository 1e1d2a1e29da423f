"""Deleting documents a retention period after their case ended (``mamori purge``).

The blob goes first (from whichever store keeps it: database or data directory), then the row is
marked purged (kept, so the timeline still says a document was received); a blob already gone
counts as purged. Open cases keep their documents whatever
their age: a specialist may still need them. Files no row names (an upload whose transaction
failed after the encrypted file was written; the database store cannot have any) are swept after
an hour's grace.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.verification.cases.models import Case
from services.verification.documents.models import Document
from services.verification.documents.storage import DocumentStore


def due_for_purge(db: Session, *, now: datetime, retention_days: int) -> list[Document]:
    cutoff = now - timedelta(days=retention_days)
    return list(
        db.scalars(
            select(Document)
            .join(Case, Case.id == Document.case_id)
            .where(Document.purged_at.is_(None), Case.ended_at.is_not(None), Case.ended_at <= cutoff)
        )
    )


#: A stored file with no row after this long is left over from an upload whose transaction failed.
ORPHAN_GRACE = timedelta(hours=1)


def orphans(db: Session, store: DocumentStore, *, now: datetime) -> list[str]:
    """Ids of stored files no documents row names (the file was written, the row rolled back)."""
    found = []
    for document_id, modified in store.stored(db):
        if now - modified > ORPHAN_GRACE and db.get(Document, document_id) is None:
            found.append(document_id)
    return found


def purge(db: Session, store: DocumentStore, *, now: datetime, retention_days: int) -> int:
    """Delete every document past retention, and left-over files; the number deleted. The caller commits."""
    documents = due_for_purge(db, now=now, retention_days=retention_days)
    for document in documents:
        store.delete(db, document.id)
        document.purged_at = now
    left_over = orphans(db, store, now=now)
    for document_id in left_over:
        store.delete(db, document_id)
    return len(documents) + len(left_over)
