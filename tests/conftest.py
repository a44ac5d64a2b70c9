"""Real Postgres for every test: `MPI_TEST_DATABASE_URL` if set, else an embedded server.

Each xdist worker gets its own database, migrated once with Alembic; tests run inside a
transaction that is rolled back (`join_transaction_mode="create_savepoint"`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from mpi_store.db import make_engine, normalise_url
from mpi_store.migrate import upgrade
from mpi_store.models import Base

_EMBEDDED_DIR = Path(tempfile.gettempdir()) / "mpi-test-pgdata"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url = os.environ.get("MPI_TEST_DATABASE_URL")
    if url:
        yield normalise_url(url)
        return
    from mpi_api.embedded import start_postgres

    server, embedded_url = start_postgres(_EMBEDDED_DIR)
    yield embedded_url
    del server


def _create_database(server_url: str, name: str) -> str:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(server_url: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = _create_database(server_url, f"mpi_test_{worker}")
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def empty_database_url(server_url: str) -> str:
    """A database with no migrations applied."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return _create_database(server_url, f"mpi_empty_{worker}")


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=20)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def committed_engine(engine: Engine) -> Iterator[Engine]:
    """For tests whose work must really commit (concurrency); tables are emptied after."""
    yield engine
    with engine.begin() as connection:
        tables = ", ".join(Base.metadata.tables)
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
