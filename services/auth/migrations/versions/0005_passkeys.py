"""passkeys: WebAuthn credentials, their ceremonies, and "passkey required"

``passkeys`` holds each account's credentials (soft-deleted, credential ids unique across
accounts); ``passkey_ceremonies`` the single-use challenges of registrations and discoverable
sign-ins; ``accounts.passkey_required`` the customer's choice that a password alone never signs in.
``account_changes.kind`` gains ``passkey`` and ``passkey_required`` (a non-native enum: no DDL).

Revision ID: auth_0005
Revises: auth_0004
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = "auth_0005"
down_revision = "auth_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("passkey_required", sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table(
        "passkeys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.JSON(), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        sa.Column("aaguid", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_passkeys_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkeys_credential_id")),
    )
    with op.batch_alter_table("passkeys", schema=None) as batch_op:
        batch_op.create_index("ix_passkeys_account_id_created_at", ["account_id", "created_at"], unique=False)

    op.create_table(
        "passkey_ceremonies",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("session_id", sa.String(length=32), nullable=True),
        sa.Column(
            "purpose",
            sa.Enum("registration", "sign_in", name="ceremonypurpose", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("challenge", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_passkey_ceremonies_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkey_ceremonies")),
    )
    with op.batch_alter_table("passkey_ceremonies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_passkey_ceremonies_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_passkey_ceremonies_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("passkey_ceremonies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passkey_ceremonies_expires_at"))
        batch_op.drop_index(batch_op.f("ix_passkey_ceremonies_account_id"))
    op.drop_table("passkey_ceremonies")
    with op.batch_alter_table("passkeys", schema=None) as batch_op:
        batch_op.drop_index("ix_passkeys_account_id_created_at")
    op.drop_table("passkeys")
    op.execute("DELETE FROM account_changes WHERE kind IN ('passkey', 'passkey_required')")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("passkey_required")
