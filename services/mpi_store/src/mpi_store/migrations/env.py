"""Alembic environment: migrates the database named by the config's URL or given connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool

from mpi_store.models import Base

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()


given: Connection | None = config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    engine = create_engine(
        config.get_main_option("sqlalchemy.url") or "", poolclass=NullPool, hide_parameters=True
    )
    with engine.connect() as connection:
        _run(connection)
        connection.commit()
