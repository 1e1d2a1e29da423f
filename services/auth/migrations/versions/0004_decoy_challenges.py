"""decoy challenges: unknown addresses count their consecutive failures like accounts do

A challenge may have no account (the decoy an unknown address gets past the consecutive-failure
guard), and ``unknown_address_streaks`` keeps those failures under the address's digest.

Revision ID: auth_0004
Revises: auth_0003
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa


revision = "auth_0004"
down_revision = "auth_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.String(length=32), nullable=True)
    op.create_table(
        "unknown_address_streaks",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_unknown_address_streaks")),
    )


def downgrade() -> None:
    op.drop_table("unknown_address_streaks")
    op.execute("DELETE FROM challenges WHERE account_id IS NULL")
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.String(length=32), nullable=False)
