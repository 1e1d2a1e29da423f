"""Deleting documents a retention period after their case ended (``mamori purge``).

The file goes first, then the row is marked purged (kept, so the timeline still says a document
was received); a file already gone counts as purged. Open cases keep their documents whatever
their age: a specialist may still need them.
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
    return list(db.scalars(
        select(Document)
        .join(Case, Case.id == Document.case_id)
        .where(Document.purged_at.is_(None), Case.ended_at.is_not(None), Case.ended_at <= cutoff)
    ))


def purge(db: Session, store: DocumentStore, *, now: datetime, retention_days: int) -> int:
    """Delete every document past retention; the number deleted. The caller commits."""
    documents = due_for_purge(db, now=now, retention_days=retention_days)
    for document in documents:
        store.delete(document.id)
        document.purged_at = now
    return len(documents)
