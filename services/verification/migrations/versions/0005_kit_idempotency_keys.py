"""Idempotency-Key answers move to the kit's table (mamori_common.idempotency): ``idempotency_keys``
replaces ``idempotent_requests``. Keys live 24 hours, so the old rows are not carried over: a
replay of a key issued before the upgrade runs as a new request.

Revision ID: verification_0005
Revises: verification_events_by_source
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from mamori_common.idempotency import create_idempotency_table, drop_idempotency_table

revision = "verification_0005"
down_revision = "verification_events_by_source"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_idempotency_table()
    op.drop_table("idempotent_requests")


def downgrade() -> None:
    op.create_table(
        "idempotent_requests",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "key", name="pk_idempotent_requests"),
    )
    drop_idempotency_table()
