"""The embedded PostgreSQL that `mpi up` starts when MPI_DATABASE_URL is unset."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from mpi_store.embedded import start_postgres


def test_starts_a_real_postgres_with_the_mpi_database():
    # Outside the repository and home: pgserver opens up every parent directory (README).
    with tempfile.TemporaryDirectory(prefix="mpi-embedded-") as folder:
        server, url = start_postgres(Path(folder) / "pgdata")
        engine = create_engine(url, poolclass=NullPool)
        with engine.connect() as connection:
            version = connection.scalar(text("SHOW server_version"))
            database = connection.scalar(text("SELECT current_database()"))
        engine.dispose()
        server.cleanup()

    assert int(version.split(".")[0]) >= 15
    assert database == "mpi"
