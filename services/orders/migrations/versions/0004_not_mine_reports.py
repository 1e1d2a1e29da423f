"""One "not me" report per order (``not_mine_reports``, unique ``order_id``); each order keeps
when its session began (``orders.session_started_at``, for the top-up rule).

Revision ID: orders_not_mine_reports
Revises: orders_0002
Create Date: 2026-12-03 09:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = "orders_not_mine_reports"
down_revision = "orders_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "not_mine_reports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("refund_id", sa.String(length=32), nullable=True),
        sa.Column("return_id", sa.String(length=32), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_not_mine_reports_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_not_mine_reports")),
        sa.UniqueConstraint("order_id", name=op.f("uq_not_mine_reports_order_id")),
    )
    op.create_index(op.f("ix_not_mine_reports_account_id"), "not_mine_reports", ["account_id"], unique=False)
    op.add_column("orders", sa.Column("session_started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("session_started_at")
    op.drop_index(op.f("ix_not_mine_reports_account_id"), table_name="not_mine_reports")
    op.drop_table("not_mine_reports")
