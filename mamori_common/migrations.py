"""Alembic, driven from code: each service keeps its scripts in ``<service>/migrations``.

No ``alembic.ini`` is needed; ``mamori migrate`` and the app factories call :func:`upgrade`.
A service's ``migrations/env.py`` is two lines that call :func:`run_env` with its metadata.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool

from mamori_common.db import make_engine, normalise_url


def alembic_config(script_location: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(script_location: Path, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(script_location, url), revision)


def downgrade(script_location: Path, url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(script_location, url), revision)


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's ``env.py`` (online mode only: we always have a database)."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is set by alembic_config()"
    engine = make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def create_event_tables() -> None:
    """Migration step shared by every service's first revision: the outbox and inbox."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("subscriber", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_due", "outbox", ["delivered_at", "available_at"])
    op.create_index("ix_outbox_event", "outbox", ["event_id", "subscriber"], unique=True)
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_inbox"),
    )


def drop_event_tables() -> None:
    from alembic import op

    op.drop_table("inbox")
    op.drop_index("ix_outbox_event", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")


def events_keyed_by_source_with_parking() -> None:
    """Migration step (each service's own revision): the inbox keyed by (source, event id), and
    the outbox's ``parked_at`` for events the dispatcher gave up on."""
    import sqlalchemy as sa
    from alembic import op

    with op.batch_alter_table("inbox") as batch:
        batch.drop_constraint("pk_inbox", type_="primary")
        batch.create_primary_key("pk_inbox", ["source", "event_id"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))


def events_keyed_by_event_id_without_parking() -> None:
    """The step back of :func:`events_keyed_by_source_with_parking`."""
    from alembic import op

    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("parked_at")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_constraint("pk_inbox", type_="primary")
        batch.create_primary_key("pk_inbox", ["event_id"])
