"""The drill's own stack: `mpi up` on free loopback ports with its own embedded Postgres and
Redis under a temporary state directory (never the machine's shared servers).

The drill starts the Redis itself and hands it to `mpi up` as `MPI_REDIS_URL`, so that it can
restart it as a fault (`mpi up` stops the stack when the Redis it owns dies); the Postgres is
the one `mpi up` embeds, restarted with `pg_ctl restart`. The worker classifies through the
`vllm` backend against the drill's classifier server (`classify_standin`), which the drill
takes down as a fault."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mpi_devtools.drill.classify_standin import ClassifyStandIn
from mpi_devtools.embedded_redis import EmbeddedRedis, start_redis
from mpi_store.embedded import resolve_database

READY_SECONDS = 120.0
STALE_AFTER_SECONDS = 20
# Short backoff and many retries: a classifier outage of minutes is waited out, and the
# worker is back within seconds of the server.
CLASSIFIER_RETRY_BACKOFF_MAX_SECONDS = 5
CLASSIFIER_MAX_RETRIES = 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    url: str
    dev_key: str
    redis: EmbeddedRedis
    state_dir: Path
    log: Path
    supervisor_pid: int
    # The stack's embedded database; pgserver shares the server `mpi up` started.
    database_url: str
    database_server: Any
    classifier: ClassifyStandIn

    @property
    def redis_port(self) -> int:
        return self.redis.port

    def restart_redis(self, down_seconds: float = 3.0) -> None:
        """Stop the broker (its append-only file keeps the queue) and start it again."""
        self.redis.stop()
        time.sleep(down_seconds)
        self.redis = start_redis(self.state_dir / "redis", self.redis.port)

    def restart_postgres(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut, the server comes back on the same
        socket."""
        server = self.database_server
        pgdata = Path(server.pgdata)
        # pg_ctl sits beside the running server's binary, which postmaster.opts names first.
        pg_ctl = Path(shlex.split((pgdata / "postmaster.opts").read_text())[0]).parent / "pg_ctl"
        subprocess.run(
            [str(pg_ctl), "-D", str(pgdata), "-w", "-m", "fast", "restart"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=server.system_user,
            timeout=60,
        )

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
        marker = {
            "linker": "mpi_linker.serve",
            "api": "mpi_api.serve",
            "relay": "mpi_classifier.cli relay",
            "worker": "mpi_classifier.cli worker",
        }[name]
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


def up_command(
    *, port: int, linker_port: int, state_dir: Path, redis_port: int | None = None
) -> list[str]:
    """`mpi up` on these loopback ports (`redis_port`: its embedded Redis, when it starts one),
    its embedded servers' data under `state_dir`."""
    return [
        sys.executable,
        "-m",
        "mpi_api.cli",
        "up",
        "--port",
        str(port),
        "--linker-port",
        str(linker_port),
        "--state-dir",
        str(state_dir),
        *(["--redis-port", str(redis_port)] if redis_port is not None else []),
    ]


@contextmanager
def running_stack(state_dir: Path) -> Iterator[Stack]:
    """Start `mpi up` with state under `state_dir`, wait until it is ready, stop it after."""
    port, linker_port, redis_port, classifier_port = (free_port() for _ in range(4))
    dev_key = "mpik_drill_" + os.urandom(12).hex()
    state_dir.mkdir(parents=True, exist_ok=True)
    redis = start_redis(state_dir / "redis", redis_port)
    classifier = ClassifyStandIn(classifier_port)
    classifier.start()
    env = {k: v for k, v in os.environ.items() if k not in {"MPI_DATABASE_URL", "MPI_REDIS_URL"}}
    env |= {
        "MPI_REDIS_URL": redis.url,
        "MPI_DEV_API_KEY": dev_key,
        "MPI_CLASSIFIER_QUEUE": f"drill-{os.getpid()}",
        # The relay redelivers what a killed worker stranded within the drill's recovery window.
        "MPI_CLASSIFIER_REDELIVER_STALE_AFTER_SECONDS": str(STALE_AFTER_SECONDS),
        "MPI_CLASSIFIER_BACKEND": "vllm",
        "MPI_CLASSIFIER_URL": classifier.url,
        "MPI_CLASSIFIER_RETRY_BACKOFF_MAX_SECONDS": str(CLASSIFIER_RETRY_BACKOFF_MAX_SECONDS),
        "MPI_CLASSIFIER_MAX_RETRIES": str(CLASSIFIER_MAX_RETRIES),
    }
    log_path = state_dir / "stack.log"
    command = up_command(port=port, linker_port=linker_port, state_dir=state_dir)
    database = None
    stack: Stack | None = None
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            if not _wait_ready(f"http://127.0.0.1:{port}"):
                raise RuntimeError(f"the drill's stack did not become ready; see {log_path}")
            database = resolve_database(state_dir, create=False)
            stack = Stack(
                f"http://127.0.0.1:{port}",
                dev_key,
                redis,
                state_dir,
                log_path,
                process.pid,
                database.url,
                database.server,
                classifier,
            )
            yield stack
        finally:
            database = None  # our handle on the embedded server: `mpi up` stops it
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            (stack.redis if stack is not None else redis).stop()
            classifier.stop()
