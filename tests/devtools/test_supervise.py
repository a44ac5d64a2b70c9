"""`mpi up`'s supervisor: a crashed child comes back; a busy port stops the start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from mpi_devtools.supervise import Child, require_free_ports, supervise
from mpi_store.domain.errors import InvalidInput

SLEEPER = [sys.executable, "-c", "import time; time.sleep(300)"]


def _wait_for(condition, seconds=15.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_child_is_restarted_and_everything_stops_on_request():
    children = [
        Child("linker", SLEEPER, dict(os.environ)),
        Child("worker", SLEEPER, dict(os.environ)),
    ]
    stop = threading.Event()
    thread = threading.Thread(target=supervise, args=(children,), kwargs={"stop": stop})
    thread.start()
    try:
        _wait_for(lambda: all(c.process is not None for c in children))
        linker, worker = children
        first = linker.process
        os.kill(first.pid, signal.SIGKILL)

        _wait_for(lambda: linker.process is not first)

        assert linker.process.poll() is None
        assert worker.process.poll() is None
        assert linker.crashes == 1
    finally:
        stop.set()
        thread.join(timeout=60)
    assert all(c.process.poll() is not None for c in children)


def test_restarts_back_off():
    child = Child("api", [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ))
    stop = threading.Event()
    thread = threading.Thread(target=supervise, args=([child],), kwargs={"stop": stop})
    thread.start()
    try:
        _wait_for(lambda: child.crashes >= 2)
        delay = child.restart_at - time.monotonic()
    finally:
        stop.set()
        thread.join(timeout=60)
    assert 1.0 < delay <= 2.0


@pytest.fixture
def busy_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_busy_port_is_named(busy_port):
    with pytest.raises(InvalidInput, match=f"port {busy_port} is in use.*--redis-port"):
        require_free_ports({busy_port: "--redis-port"})


def test_up_on_a_busy_port_exits_non_zero_naming_it(database_url, busy_port, tmp_path):
    env = {**os.environ, "MPI_DATABASE_URL": database_url}
    ports = ["--redis-port", str(busy_port), "--port", "0", "--linker-port", "0"]
    run = subprocess.run(
        [sys.executable, "-m", "mpi_api.cli", "up", *ports, "--state-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 2
    assert f"port {busy_port} is in use" in run.stderr
    assert "MPI api on" not in run.stdout
