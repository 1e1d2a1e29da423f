"""account standing: restrictions by case, the lock's own case, step-up requests, time zones

The ``accounts.state`` column keeps only the lasting states (active, frozen, closed): a lock
moves to ``lock_case_id``/``lock_reason`` beside its ``locked_until``, and a restriction to a row
of ``account_restrictions`` keyed by its case, so one can no longer overwrite the other.

Revision ID: auth_0002
Revises: auth_0001
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa


revision = "auth_0002"
down_revision = "auth_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("time_zone", sa.String(length=64), nullable=False, server_default="Asia/Tokyo")
        )
        batch_op.add_column(sa.Column("lock_case_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("lock_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("step_up_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("step_up_case_id", sa.String(length=32), nullable=True))

    op.create_table(
        "account_restrictions",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_restrictions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_account_restrictions")),
    )
    with op.batch_alter_table("account_restrictions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_restrictions_account_id"), ["account_id"], unique=False)

    # Stored states that are now derived: a lock keeps its case beside locked_until; a restriction
    # becomes a row under its case (one without a case id gets the account's id as its key).
    op.execute(
        "UPDATE accounts SET lock_case_id = state_case_id, lock_reason = state_reason, "
        "state = 'active', state_case_id = NULL, state_reason = NULL WHERE state = 'locked'"
    )
    op.execute(
        "INSERT INTO account_restrictions (case_id, account_id, kind, reason, opened_at) "
        "SELECT COALESCE(state_case_id, id), id, 'payment_verification', COALESCE(state_reason, ''), updated_at "
        "FROM accounts WHERE state = 'restricted'"
    )
    op.execute(
        "UPDATE accounts SET state = 'active', state_case_id = NULL, state_reason = NULL WHERE state = 'restricted'"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE accounts SET state = 'locked', state_case_id = lock_case_id, state_reason = lock_reason "
        "WHERE state = 'active' AND lock_case_id IS NOT NULL"
    )
    op.execute(
        "UPDATE accounts SET state = 'restricted', state_case_id = (SELECT MIN(r.case_id) FROM account_restrictions r "
        "WHERE r.account_id = accounts.id AND r.lifted_at IS NULL) WHERE state = 'active' AND EXISTS "
        "(SELECT 1 FROM account_restrictions r WHERE r.account_id = accounts.id AND r.lifted_at IS NULL)"
    )
    with op.batch_alter_table("account_restrictions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_restrictions_account_id"))
    op.drop_table("account_restrictions")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("step_up_case_id")
        batch_op.drop_column("step_up_reason")
        batch_op.drop_column("lock_reason")
        batch_op.drop_column("lock_case_id")
        batch_op.drop_column("time_zone")
