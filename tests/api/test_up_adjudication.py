"""`mpi up` runs the whole path: a gray pair posted to the api is adjudicated by the relay and
worker it started (embedded Redis), and the two patients become one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_up_adjudicates_gray_pairs(
    database_url, committed_engine, tmp_path, make_record, moved, clinical, same_patient
):
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "MPI_REDIS_URL"},
        "MPI_DATABASE_URL": database_url,
        "MPI_DEV_API_KEY": "mpik_" + "u" * 30,
        "MPI_CLASSIFIER_QUEUE": f"up-{port}",
    }
    log = (tmp_path / "up.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mpi_api.cli",
            "up",
            "--port",
            str(port),
            "--linker-port",
            str(_free_port()),
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
        headers = {"Authorization": f"Bearer {env['MPI_DEV_API_KEY']}"}
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()
            time.sleep(0.3)
        first = httpx.post(
            f"{url}/records",
            json=make_record(source="FAC1", clinical=clinical(same_patient[0])),
            headers=headers,
        ).json()
        second = httpx.post(
            f"{url}/records",
            json=make_record(source="FAC2", clinical=clinical(same_patient[1]), **moved),
            headers=headers,
        ).json()
        assert second["link_state"] == "provisional"

        deadline = time.monotonic() + 90
        while True:
            answer = httpx.get(f"{url}/patients/{second['mpi_id']}", headers=headers)
            if answer.status_code == 308:
                break
            assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()
            time.sleep(0.5)
        assert answer.json()["redirect_to"] == first["mpi_id"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=90)
        log.close()
    assert process.returncode == 0, (tmp_path / "up.log").read_text()
