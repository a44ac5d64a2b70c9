"""The `mpi` command: keys, migrations, and `mpi up` serving a real api process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
from typer.testing import CliRunner

from mpi_api.cli import app


def test_keys_create_prints_a_working_key(database_url, committed_engine, monkeypatch, tmp_path):
    monkeypatch.setenv("MPI_DATABASE_URL", database_url)

    result = CliRunner().invoke(
        app,
        [
            "keys",
            "create",
            "--name",
            "epic",
            "--scope",
            "records:write",
            "--source",
            "FAC1",
            "--state-dir",
            str(tmp_path),
        ],
    )

    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("mpik_")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_up_serves_the_api_and_stops_on_ctrl_c(database_url, committed_engine, tmp_path):
    port = _free_port()
    env = {**os.environ, "MPI_DATABASE_URL": database_url, "MPI_DEV_API_KEY": "mpik_" + "k" * 30}
    log = (tmp_path / "up.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mpi_api.cli",
            "up",
            "--port",
            str(port),
            "--redis-port",
            str(_free_port()),
            "--state-dir",
            str(tmp_path),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()
            time.sleep(0.3)
        headers = {"Authorization": f"Bearer {env['MPI_DEV_API_KEY']}"}
        record = {"source": "FAC1", "source_record_id": "UP1", "family_name": "Doe"}
        first = httpx.post(f"{url}/records", json=record, headers=headers)
        second = httpx.post(f"{url}/records", json=record, headers=headers)
        patient = httpx.get(f"{url}/patients/{first.json()['mpi_id']}", headers=headers)
        assert (first.status_code, second.status_code) == (201, 200)
        assert second.json()["mpi_id"] == first.json()["mpi_id"]
        assert patient.json()["golden"]["family_name"] == "Doe"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        log.close()
    assert process.returncode == 0
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "api still listening after Ctrl-C"
