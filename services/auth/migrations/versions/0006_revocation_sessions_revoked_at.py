"""An index on ``sessions.revoked_at``: every replica of orders and verification asks
``/internal/revocations?since=`` twice a second, which must not scan every session.

Revision ID: auth_0006_revocation
Revises: auth_0005
Create Date: 2026-12-03 13:50:00
"""

from alembic import op


revision = "auth_0006_revocation"
down_revision = "auth_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_revoked_at"), ["revoked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_revoked_at"))
