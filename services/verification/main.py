"""The verification service: cases, checklists, documents and reviews.

Its domain arrives with its own issue; until then it runs, migrates, and records every event sent
to it in its inbox, so nothing auth or orders publish today is lost before the handlers exist.
"""

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mamori_common.app import ServiceSpec, create_service_app
from services.verification.config import VerificationSettings
from services.verification.database import Base, inbox, outbox

metadata = Base.metadata

SPEC = ServiceSpec(
    name="verification",
    title="Mamori verification",
    description="Cases of every kind, checklists, document uploads, card-number scanning and reviews.",
    migrations_dir=Path(__file__).parent / "migrations",
    outbox_table=outbox,
    inbox_table=inbox,
)


def create_app(settings: VerificationSettings | None = None, **options: Any) -> FastAPI:
    return create_service_app(SPEC, settings or VerificationSettings(), **options)
