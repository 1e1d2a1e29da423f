"""devices: server-issued device tokens replace client-chosen device ids

``devices`` holds each device's public handle and the SHA-256 of its token's current secret.
``known_devices`` rows named devices by a string the client chose (``X-Device-ID``), which anyone
could send: they are forgotten, so each owner's next sign-in is from a "new device" once and
the device then gets a token.

Revision ID: 0006_devices_tokens
Revises: auth_0006_intrusion
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = "0006_devices_tokens"
down_revision = "auth_0006_intrusion"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
    )
    op.execute("DELETE FROM known_devices")


def downgrade() -> None:
    op.drop_table("devices")
