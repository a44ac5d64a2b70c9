"""`mpi up`'s supervisor: keep every child process running, restarting a crashed one with
backoff, until asked to stop."""

from __future__ import annotations

import logging
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from mpi_devtools.embedded_redis import EmbeddedRedis
from mpi_store.domain.errors import InvalidInput

log = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
# A child that ran this long before it crashed starts its backoff again from the first delay.
STABLE_SECONDS = 60.0


@dataclass
class Child:
    """One supervised command; `process` is its current run."""

    name: str
    args: Sequence[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    crashes: int = 0
    restart_at: float | None = field(default=None)

    def start(self) -> None:
        self.process = subprocess.Popen(list(self.args), env=self.env)
        self.started_at = time.monotonic()
        self.restart_at = None


def require_free_ports(ports: dict[int, str], host: str = "127.0.0.1") -> None:
    """Refuse to start beside a server already on one of our ports (`{port: option}`):
    otherwise a child would fail to bind or, worse, talk to a stranger's server."""
    for port, option in ports.items():
        with socket.socket() as sock:
            # As uvicorn binds: a port left in TIME_WAIT by a previous run is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                raise InvalidInput(
                    f"port {port} is in use: free it or pick another with {option}"
                ) from None


def supervise(
    children: list[Child], *, stop: threading.Event, broker: EmbeddedRedis | None = None
) -> bool:
    """Run until `stop` is set or the embedded broker exits; then stop every child, the broker
    last so the worker can hand back its unfinished tasks. False if the broker died."""
    for child in children:
        child.start()
    broker_alive = True
    while not stop.wait(0.2):
        if broker is not None and broker.process.poll() is not None:
            log.error("embedded redis exited (code %s); stopping", broker.process.returncode)
            broker_alive = False
            break
        for child in children:
            _keep_running(child)
    _stop_all(children)
    if broker is not None:
        broker.stop()
    return broker_alive


def _keep_running(child: Child) -> None:
    now = time.monotonic()
    if child.restart_at is not None:
        if now >= child.restart_at:
            log.info("restarting %s", child.name)
            child.start()
        return
    assert child.process is not None
    code = child.process.poll()
    if code is None:
        return
    if now - child.started_at >= STABLE_SECONDS:
        child.crashes = 0
    delay = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2**child.crashes)
    child.crashes += 1
    child.restart_at = now + delay
    log.error("%s exited (code %s); restarting in %.0f s", child.name, code, delay)


def _stop_all(children: list[Child]) -> None:
    running = [c.process for c in children if c.process is not None and c.process.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            # The worker's soft shutdown lets a running task finish (up to 30 s).
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
