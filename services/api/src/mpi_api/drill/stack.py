"""The drill's own stack: `mpi up` on free loopback ports with its own embedded Postgres and
Redis under a temporary state directory (never the machine's shared servers)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from mpi_store.embedded import resolve_database

READY_SECONDS = 120.0
STALE_AFTER_SECONDS = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Stack:
    url: str
    dev_key: str
    redis_port: int
    state_dir: Path
    log: Path
    supervisor_pid: int
    # The stack's embedded database; pgserver shares the server `mpi up` started.
    database_url: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.dev_key}"}

    def child_pid(self, name: str) -> int | None:
        """The pid of the supervised child `name` (`linker`, `api`, `relay`, `worker`), or of
        a pool child of the worker (`worker pool child`)."""
        if name == "worker pool child":
            worker = self.child_pid("worker")
            pool = _children(worker) if worker is not None else []
            return pool[0] if pool else None
        marker = {"linker": "mpi_linker.app", "api": "mpi_api.app"}.get(name, f"mpi_api.cli {name}")
        for child in _children(self.supervisor_pid):
            if marker in _cmdline(child):
                return child
        return None

    def wait_ready(self, seconds: float = READY_SECONDS) -> bool:
        return _wait_ready(self.url, seconds)


def _wait_ready(url: str, seconds: float = READY_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    return False


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def up_command(*, port: int, linker_port: int, redis_port: int, state_dir: Path) -> list[str]:
    """`mpi up` on these loopback ports, its embedded servers' data under `state_dir`."""
    return [
        sys.executable,
        "-m",
        "mpi_api.cli",
        "up",
        "--port",
        str(port),
        "--linker-port",
        str(linker_port),
        "--redis-port",
        str(redis_port),
        "--state-dir",
        str(state_dir),
    ]


@contextmanager
def running_stack(state_dir: Path) -> Iterator[Stack]:
    """Start `mpi up` with state under `state_dir`, wait until it is ready, stop it after."""
    port, linker_port, redis_port = free_port(), free_port(), free_port()
    dev_key = "mpik_drill_" + os.urandom(12).hex()
    env = {k: v for k, v in os.environ.items() if k not in {"MPI_DATABASE_URL", "MPI_REDIS_URL"}}
    env |= {
        "MPI_DEV_API_KEY": dev_key,
        "MPI_CLASSIFIER_QUEUE": f"drill-{os.getpid()}",
        # The relay redelivers what a killed worker stranded within the drill's recovery window.
        "MPI_CLASSIFIER_REDELIVER_STALE_AFTER_SECONDS": str(STALE_AFTER_SECONDS),
    }
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "stack.log"
    command = up_command(
        port=port, linker_port=linker_port, redis_port=redis_port, state_dir=state_dir
    )
    database = None
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            if not _wait_ready(f"http://127.0.0.1:{port}"):
                raise RuntimeError(f"the drill's stack did not become ready; see {log_path}")
            database = resolve_database(state_dir, create=False)
            yield Stack(
                f"http://127.0.0.1:{port}",
                dev_key,
                redis_port,
                state_dir,
                log_path,
                process.pid,
                database.url,
            )
        finally:
            database = None  # our handle on the embedded server: `mpi up` stops it
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
