"""Real Postgres and Redis for every test: `MPI_TEST_DATABASE_URL` / `MPI_TEST_REDIS_URL` if
set, else embedded servers.

Each xdist worker gets its own database, migrated once with Alembic; tests run inside a
transaction that is rolled back (`join_transaction_mode="create_savepoint"`).
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from mpi_store.datasets import iter_payloads
from mpi_store.db import make_engine, normalise_url
from mpi_store.migrate import upgrade
from mpi_store.models import Base, GoldenRecord, Link, SourceRecord
from mpi_store.repositories import LinkerIndexRepository

_EMBEDDED_DIR = Path(tempfile.gettempdir()) / "mpi-test-pgdata"
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "fixture"
# Two records of one patient whose histories agree (overlap p > 0.99), and two people's
# records whose histories share nothing (p < 1e-5): chosen from data/fixture's truth.
SAME_PATIENT = (("facility-02", "MRN56705406"), ("facility-04", "MRN29245148"))
DIFFERENT_PEOPLE = (("facility-05", "MRN76265268"), ("facility-04", "MRN49948190"))


@pytest.fixture(autouse=True)
def _no_caller_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment: the caller's `MPI_*` (a dev key, a database URL from
    `make up`'s instructions) must not change what a test sees. `MPI_TEST_*` are ours."""
    for name in os.environ:
        if name.startswith("MPI_") and not name.startswith("MPI_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url = os.environ.get("MPI_TEST_DATABASE_URL")
    if url:
        yield normalise_url(url)
        return
    from mpi_store.embedded import start_postgres

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


def _drop_database(server_url: str, name: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _run_name(prefix: str) -> str:
    # Unique per test process, so concurrent runs on one server never share a database.
    return f"{prefix}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    name = _run_name("mpi_test")
    url = _create_database(server_url, name)
    upgrade(url)
    yield url
    _drop_database(server_url, name)


@pytest.fixture(scope="session")
def empty_database_url(server_url: str) -> Iterator[str]:
    """A database with no migrations applied."""
    name = _run_name("mpi_empty")
    yield _create_database(server_url, name)
    _drop_database(server_url, name)


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("MPI_TEST_REDIS_URL")
    if url:
        yield url
        return
    from mpi_devtools.embedded_redis import start_redis

    with tempfile.TemporaryDirectory(prefix="mpi-test-redis-") as folder:
        server = start_redis(Path(folder), _free_port())
        yield server.url
        server.stop()


@pytest.fixture
def queue(redis_url: str) -> Iterator[str]:
    """A queue of this test's own; its keys are deleted afterwards."""
    name = f"test-adjudication-{uuid.uuid4().hex[:12]}"
    yield name
    import redis  # the `classifier` extra

    client = redis.Redis.from_url(redis_url)
    keys = [k for pattern in (f"{name}*", f"*{name}*") for k in client.scan_iter(pattern)]
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def fixture_payloads() -> dict[tuple[str, str], dict[str, Any]]:
    _, payloads = iter_payloads(FIXTURE)
    return {(p["source"], p["source_record_id"]): p for p in payloads}


@pytest.fixture
def same_patient() -> tuple[tuple[str, str], tuple[str, str]]:
    return SAME_PATIENT


@pytest.fixture
def different_people() -> tuple[tuple[str, str], tuple[str, str]]:
    return DIFFERENT_PEOPLE


@pytest.fixture
def clinical(fixture_payloads) -> Callable[[tuple[str, str]], dict[str, Any]]:
    """The `clinical` object of a fixture record."""

    def get(key: tuple[str, str]) -> dict[str, Any]:
        return fixture_payloads[key]["clinical"]

    return get


@pytest.fixture
def drain_queue(redis_url: str, queue: str) -> Callable[..., list[tuple[str, list[Any]]]]:
    """Take every message waiting in the test's queue: (task name, args)."""

    def drain(url: str = redis_url, name: str = queue) -> list[tuple[str, list[Any]]]:
        from kombu import Connection, Queue

        found = []
        with Connection(url) as connection:
            simple = connection.SimpleQueue(Queue(name, routing_key=name))
            while True:
                try:
                    message = simple.get(timeout=0.5)
                except simple.Empty:
                    break
                args, _kwargs, _embed = message.decode()
                found.append((message.headers["task"], args))
                message.ack()
            simple.close()
        return found

    return drain


@pytest.fixture
def index_patients(session: Session) -> Callable[..., list[int]]:
    """Store `n` records, each its own patient, indexed under `keys` with `features` (straight
    into the tables, as a large index would hold them); returns their ids."""

    def store(keys: list[str], features: dict[str, Any], n: int, start: int = 0) -> list[int]:
        index = LinkerIndexRepository(session)
        ids = []
        for i in range(start, start + n):
            record = SourceRecord(
                source="IDX", source_record_id=str(i), identifiers=[], content_hash="x", version=1
            )
            golden = GoldenRecord(mpi_id=f"mpi_idx{i}", status="active", attributes={}, version=1)
            session.add_all([record, golden])
            session.flush()
            session.add(
                Link(
                    record_id=record.id,
                    golden_record_id=golden.id,
                    match_result="NO_MATCH",
                    link_source="AUTO",
                    link_state="final",
                    decision_id=uuid.uuid4(),
                    version=1,
                )
            )
            index.put(record.id, features=features, keys=keys)
            ids.append(record.id)
        session.flush()
        return ids

    return store
