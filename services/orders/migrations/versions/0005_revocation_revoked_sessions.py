"""Ended sessions whose access tokens orders refuses (``revoked_sessions``, fed by auth's
``session.revoked`` and its ``/internal/revocations``; ``mamori_common/revocations.py``).

Revision ID: orders_0005_revocation
Revises: orders_not_mine_reports
Create Date: 2026-12-03 13:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = "orders_0005_revocation"
down_revision = "orders_not_mine_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_revoked_sessions")),
    )
    op.create_index("ix_revoked_sessions_revoked_at", "revoked_sessions", ["revoked_at"], unique=False)
    op.create_index("ix_revoked_sessions_recorded_at", "revoked_sessions", ["recorded_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_revoked_sessions_recorded_at", table_name="revoked_sessions")
    op.drop_index("ix_revoked_sessions_revoked_at", table_name="revoked_sessions")
    op.drop_table("revoked_sessions")
