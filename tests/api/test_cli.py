"""The `mpi` command: keys, migrations, and `mpi up` serving a real api process."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from mpi_api.auth.service import resolve_key
from mpi_api.cli import app
from mpi_devtools.drill.stack import free_port
from mpi_store.domain.errors import InvalidInput


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


def test_up_serves_the_api_and_stops_on_ctrl_c(database_url, committed_engine, mpi_up):
    env = {**os.environ, "MPI_DATABASE_URL": database_url, "MPI_DEV_API_KEY": "mpik_" + "k" * 30}
    with mpi_up(env) as running:
        headers = {"Authorization": f"Bearer {env['MPI_DEV_API_KEY']}"}
        record = {"source": "FAC1", "source_record_id": "UP1", "family_name": "Doe"}
        first = httpx.post(f"{running.url}/records", json=record, headers=headers)
        second = httpx.post(f"{running.url}/records", json=record, headers=headers)
        patient = httpx.get(f"{running.url}/patients/{first.json()['mpi_id']}", headers=headers)
        assert (first.status_code, second.status_code) == (201, 200)
        assert second.json()["mpi_id"] == first.json()["mpi_id"]
        assert patient.json()["golden"]["family_name"] == "Doe"
        # An idle connection outlives a client's own keep-alive (httpx: 5 s), so the server
        # never closes one as the client reuses it (that cuts the request).
        assert httpx.Limits().keepalive_expiry == 5.0
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
        try:
            assert _get_healthz(conn) == 200
            time.sleep(6)
            assert _get_healthz(conn) == 200
        finally:
            conn.close()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", running.port)) != 0, "api still listening"


def _get_healthz(conn: http.client.HTTPConnection) -> int:
    """On the connection as it is (http.client reconnects only after a close it saw)."""
    conn.request("GET", "/healthz")
    answer = conn.getresponse()
    answer.read()
    return answer.status


def _mpi(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpi_api.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_up_with_a_bad_setting_names_it_in_one_line(database_url, tmp_path):
    secret = "many_QX7Z9"
    env = {**os.environ, "MPI_DATABASE_URL": database_url, "MPI_API_DATABASE_POOL_SIZE": secret}

    # Ports of its own: another MPI on the defaults (`make up`) must not answer first.
    ports = [str(free_port()) for _ in range(3)]
    run = _mpi(
        "up",
        "--state-dir",
        str(tmp_path),
        *("--port", ports[0], "--linker-port", ports[1], "--redis-port", ports[2]),
        env=env,
    )

    assert run.returncode == 2
    assert "MPI_API_DATABASE_POOL_SIZE" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert secret not in run.stdout + run.stderr


@pytest.mark.parametrize(
    "command",
    [("keys", "create", "--name", "x", "--scope", "admin"), ("linker", "refresh-tf")],
)
def test_a_command_outside_the_state_dir_creates_no_database(tmp_path, command):
    run = _mpi(*command, "--state-dir", str(tmp_path), env=dict(os.environ))

    assert run.returncode == 2, run.stderr
    assert f"no MPI database under {tmp_path / 'pgdata'}" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "pgdata").exists()


def test_keys_list_and_revoke(database_url, committed_engine, monkeypatch, tmp_path):
    monkeypatch.setenv("MPI_DATABASE_URL", database_url)
    runner = CliRunner()
    created = runner.invoke(
        app, ["keys", "create", "--name", "steward", "--scope", "patients:read"]
    )
    key_id = created.stdout.split()[2]
    key = created.stdout.strip().splitlines()[-1]

    listed = runner.invoke(app, ["keys", "list"])
    revoked = runner.invoke(app, ["keys", "revoke", key_id])
    again = runner.invoke(app, ["keys", "revoke", key_id])
    listed_after = runner.invoke(app, ["keys", "list"])

    assert "database: MPI_DATABASE_URL (postgresql+psycopg://" in created.stderr
    assert f"{key_id}\tsteward\tpatients:read\t*\tstrict" in listed.stdout
    assert "active" in listed.stdout
    assert key not in listed.stdout
    assert revoked.exit_code == 0
    assert isinstance(again.exception, InvalidInput)
    assert "revoked" in listed_after.stdout
    with Session(committed_engine) as session:
        assert resolve_key(session, presented=key, dev_key=None) is None


def test_keys_create_lenient(database_url, committed_engine, monkeypatch):
    monkeypatch.setenv("MPI_DATABASE_URL", database_url)
    runner = CliRunner()
    created = runner.invoke(
        app, ["keys", "create", "--name", "legacy", "--scope", "records:write", "--lenient"]
    )
    key_id = created.stdout.split()[2]

    listed = runner.invoke(app, ["keys", "list"])

    assert created.exit_code == 0
    assert f"{key_id}\tlegacy\trecords:write\t*\tlenient" in listed.stdout


def test_a_steward_key_gets_the_links_write_scope(database_url, committed_engine, monkeypatch):
    monkeypatch.setenv("MPI_DATABASE_URL", database_url)
    created = CliRunner().invoke(
        app,
        [
            "keys",
            "create",
            "--name",
            "steward",
            "--scope",
            "patients:read",
            "--scope",
            "links:write",
        ],
    )
    key = created.stdout.strip().splitlines()[-1]

    assert created.exit_code == 0, created.stderr
    with Session(committed_engine) as session:
        principal = resolve_key(session, presented=key, dev_key=None)
    assert principal is not None
    assert principal.scopes == {"patients:read", "links:write"}
