"""The embedded PostgreSQL that `mpi up` starts when MPI_DATABASE_URL is unset."""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_without_the_embedded_server_mpi_up_says_what_to_do(tmp_path):
    # As in an image (or an install without the `dev` extra): pgserver cannot be imported.
    script = """
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "pgserver":
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Absent())
from mpi_api.cli import main
sys.argv = ["mpi", "up", "--port", "0", "--linker-port", "0", "--redis-port", "0"]
sys.argv += ["--state-dir", sys.argv[1]]
main()
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPI_")}

    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 2, done.stderr
    assert "set MPI_DATABASE_URL to a Postgres server, or install the `dev` extra" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "pgdata").exists()
