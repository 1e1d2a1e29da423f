"""The outbox and inbox every service has.

Revision ID: verification_0001
Revises:
Create Date: 2026-11-22
"""

from mamori_common.migrations import create_event_tables, drop_event_tables

revision = "verification_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_tables()


def downgrade() -> None:
    drop_event_tables()
