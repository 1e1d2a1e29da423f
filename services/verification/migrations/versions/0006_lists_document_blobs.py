"""document_blobs: the encrypted documents in the database, so every replica reads every document.

Only used when the service runs on PostgreSQL (or ``MAMORI_DOCUMENT_STORE=database``); the files
an embedded install wrote under the data directory stay where they are and are still read there.

Revision ID: verification_0006_lists_blobs
Revises: verification_0006_revocation
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "verification_0006_lists_blobs"
down_revision = "verification_0006_revocation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_blobs",
        sa.Column("document_id", sa.String(32), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name="fk_document_blobs_document_id_documents", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("document_id", name="pk_document_blobs"),
    )


def downgrade() -> None:
    op.drop_table("document_blobs")
