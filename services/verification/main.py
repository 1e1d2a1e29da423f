"""The verification service: cases of every kind, checklists, document uploads with card-number
scanning, and the specialists' review."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mamori_common.app import ServiceSpec, create_service_app
from mamori_common.tokens import AccessTokenVerifier
from services.verification import context
from services.verification.cases import views as case_views
from services.verification.cases.models import Case, ChecklistItem, TimelineEntry  # noqa: F401  (registers tables)
from services.verification.config import VerificationSettings
from services.verification.database import Base, inbox, outbox, revoked_sessions
from services.verification.documents import views as document_views
from services.verification.documents.blob_stores import BlobStore, DatabaseBlobStore, DirectoryBlobStore
from services.verification.documents.models import Document  # noqa: F401
from services.verification.documents.storage import DocumentStore, Keyring
from services.verification.events import EVENT_HANDLERS, EVENT_ROUTES
from services.verification.review import views as review_views

metadata = Base.metadata

#: Where auth publishes the public keys of access tokens.
JWKS_PATH = "/api/auth/.well-known/jwks.json"

SPEC = ServiceSpec(
    name="verification",
    title="Mamori verification",
    description=__doc__ or "",
    migrations_dir=Path(__file__).parent / "migrations",
    outbox_table=outbox,
    inbox_table=inbox,
    routers=(case_views.router, document_views.router, review_views.router),
    event_routes=EVENT_ROUTES,
    event_handlers=EVENT_HANDLERS,
    revocations_table=revoked_sessions,
)


def blob_store(settings: VerificationSettings) -> BlobStore:
    """The database when it is shared (PostgreSQL: every replica reads every document), else the
    data directory; ``MAMORI_DOCUMENT_STORE`` overrides."""
    choice = settings.document_store
    if choice == "auto":
        choice = "directory" if settings.resolved_database_url().startswith("sqlite") else "database"
    if choice == "database":
        return DatabaseBlobStore()
    return DirectoryBlobStore(settings.data_dir / "documents")


def document_store(settings: VerificationSettings) -> DocumentStore:
    return DocumentStore(Keyring.from_settings(settings.document_keys, settings.data_dir), blob_store(settings))


def create_app(settings: VerificationSettings | None = None, **options: Any) -> FastAPI:
    settings = settings or VerificationSettings()
    app = create_service_app(SPEC, settings, **options)
    app.state.token_verifier = AccessTokenVerifier.from_jwks_url(
        [url + JWKS_PATH for url in settings.upstreams("auth")], app.state.clock
    )
    context.install(
        app,
        context.VerificationEnv(
            settings=settings,
            clock=app.state.clock,
            outbox=app.state.outbox,
            store=document_store(settings),
        ),
    )
    return app
