"""Alembic environment: migrations run from code (netgauge.inventory.db.migrate), not a CLI."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from netgauge.inventory.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Use the connection handed over by migrate(), or open one from the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _run(conn)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
