"""Cases, their checklists and timelines, and documents.

Revision ID: verification_0002
Revises: verification_0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "verification_0002"
down_revision = "verification_0001"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("number", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("restricts_account", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("opened_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.Column("due_at", _WHEN, nullable=True),
        sa.Column("last_customer_input_at", _WHEN, nullable=True),
        sa.Column("last_reviewed_at", _WHEN, nullable=True),
        sa.Column("ended_at", _WHEN, nullable=True),
        sa.Column("rounds", sa.Integer, nullable=False),
        sa.Column("rejection_proposed_by", sa.String(64), nullable=True),
        sa.Column("rejection_reason_code", sa.String(64), nullable=True),
        sa.Column("needs_staff", sa.Boolean, nullable=False),
        sa.Column("order_ids", sa.JSON, nullable=False),
        sa.Column("card_last4", sa.String(4), nullable=True),
        sa.Column("holder_name", sa.String(200), nullable=True),
        sa.Column("held_amount", sa.Integer, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("number", name="uq_cases_number"),
    )
    op.create_index("ix_cases_account_id", "cases", ["account_id"])
    op.create_index("ix_cases_queue", "cases", ["state", "due_at"])
    op.create_table(
        "checklist_items",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=True),
        sa.Column("source", sa.String(16), nullable=True),
        sa.Column("value", sa.Text, nullable=True),
        sa.Column("updated_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_checklist_items_case_id_cases", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_checklist_items"),
    )
    op.create_index("ix_checklist_items_case_id", "checklist_items", ["case_id"])
    op.create_table(
        "timeline_entries",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("at", _WHEN, nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("summary_ja", sa.Text, nullable=False),
        sa.Column("summary_en", sa.Text, nullable=False),
        sa.Column("visible_to_customer", sa.Boolean, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_timeline_entries_case_id_cases", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_timeline_entries"),
    )
    op.create_index("ix_timeline_entries_case_id", "timeline_entries", ["case_id"])
    op.create_table(
        "documents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("masked", sa.Boolean, nullable=False),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("uploaded_at", _WHEN, nullable=False),
        sa.Column("purged_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_documents_case_id_cases", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
    )
    op.create_index("ix_documents_case_id", "documents", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_documents_case_id", table_name="documents")
    op.drop_table("documents")
    op.drop_index("ix_timeline_entries_case_id", table_name="timeline_entries")
    op.drop_table("timeline_entries")
    op.drop_index("ix_checklist_items_case_id", table_name="checklist_items")
    op.drop_table("checklist_items")
    op.drop_index("ix_cases_queue", table_name="cases")
    op.drop_index("ix_cases_account_id", table_name="cases")
    op.drop_table("cases")
