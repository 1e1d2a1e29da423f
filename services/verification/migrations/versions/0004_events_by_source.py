"""events: the inbox keyed by (source, event id); parked outbox events

Revision ID: verification_events_by_source
Revises: verification_0001
Create Date: 2026-11-23
"""

from mamori_common.migrations import events_keyed_by_event_id_without_parking, events_keyed_by_source_with_parking

revision = "verification_events_by_source"
down_revision = "verification_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    events_keyed_by_source_with_parking()


def downgrade() -> None:
    events_keyed_by_event_id_without_parking()
