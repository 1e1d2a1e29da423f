"""events: the inbox keyed by (source, event id); parked outbox events

Revision ID: auth_0003
Revises: auth_0002
Create Date: 2026-11-23
"""

from mamori_common.migrations import events_keyed_by_event_id_without_parking, events_keyed_by_source_with_parking

revision = "auth_0003"
down_revision = "auth_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    events_keyed_by_source_with_parking()


def downgrade() -> None:
    events_keyed_by_event_id_without_parking()
