"""intrusion: sessions from a new device or country, watched for an intruder's moves (story S2)

``watched_sessions`` holds one row per session whose sign-in was from a new device or country:
the moves it made since (password or e-mail change, new tender, gift-card or top-up orders), the
e-mail the account had when it began (the old contact to tell), and the case the policy opened.
``account_changes.kind`` gains ``sign_in``: the new-sign-in notice's "this was not me" code
(a non-native enum: no DDL).

Revision ID: auth_0006_intrusion
Revises: auth_0006_revocation
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = "auth_0006_intrusion"
down_revision = "auth_0006_revocation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watched_sessions",
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("new_device", sa.Boolean(), nullable=False),
        sa.Column("new_country", sa.Boolean(), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("contact_before", sa.String(length=320), nullable=False),
        sa.Column("moves", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_watched_sessions_account_id_accounts")),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_watched_sessions")),
    )
    with op.batch_alter_table("watched_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_watched_sessions_account_id"), ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("watched_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watched_sessions_account_id"))
    op.drop_table("watched_sessions")
    op.execute("DELETE FROM account_changes WHERE kind = 'sign_in'")
