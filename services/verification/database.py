"""The verification service's metadata: every table it owns, and nobody else reads."""

from sqlalchemy.orm import DeclarativeBase

from mamori_common.db import new_metadata
from mamori_common.events import event_tables
from mamori_common.idempotency import idempotency_table
from mamori_common.revocations import revocation_table


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox, inbox = event_tables(Base.metadata)
idempotency_keys = idempotency_table(Base.metadata)
#: Ended sessions whose access tokens this service refuses (``mamori_common/revocations.py``).
revoked_sessions = revocation_table(Base.metadata)
