"""Auth drill: no key, wrong key, wrong scope, wrong source and revoked key get 401 / 403 and
no data."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import httpx

from mpi_devtools.drill.population import phi_values
from mpi_devtools.drill.report import Check
from mpi_devtools.drill.stack import Stack
from mpi_store.domain.enums import Scope


def check_auth(stack: Stack, *, record: dict[str, Any]) -> Check:
    check = Check("auth", scope="no key, wrong key, wrong scope, wrong source, revoked key")
    seeded = httpx.post(f"{stack.url}/records", json=record, headers=stack.headers, timeout=30)
    check.expect(seeded.status_code == 201, f"seed record answered {seeded.status_code}")
    read_path = f"/patients/{seeded.json().get('mpi_id', 'none')}"
    keys = _keys(stack)
    attempts: list[tuple[str, str, str | None, int]] = [
        ("no key", read_path, None, 401),
        ("wrong key", read_path, "mpik_" + "x" * 43, 401),
        ("wrong scope", "/records", keys["reader"], 403),
        ("wrong source", "/records", keys["other_source"], 403),
        ("revoked key", read_path, keys["revoked"], 401),
    ]
    secrets = phi_values([record])
    for name, path, key, expected in attempts:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        answer = (
            httpx.post(f"{stack.url}{path}", json=record, headers=headers, timeout=30)
            if path == "/records"
            else httpx.get(f"{stack.url}{path}", headers=headers, timeout=30)
        )
        check.figures[name] = answer.status_code
        check.expect(answer.status_code == expected, f"{name}: {answer.status_code}")
        leaked = [s for s in secrets if s in answer.text]
        check.expect(not leaked, f"{name}: the answer carries record data")
    return check


def _keys(stack: Stack) -> dict[str, str]:
    """Made as an operator makes them: `mpi keys create` and `mpi keys revoke`."""
    reader = _mpi_keys(stack, "create", "--name", "drill-reader", "--scope", Scope.PATIENTS_READ)
    other = _mpi_keys(
        stack,
        *("create", "--name", "drill-other-source", "--scope", Scope.RECORDS_WRITE),
        *("--source", "DRILL-ELSEWHERE"),
    )
    revoked = _mpi_keys(stack, "create", "--name", "drill-revoked", "--scope", Scope.ADMIN)
    key_id = re.search(r"key id (\d+)", revoked)
    if key_id is None:
        raise RuntimeError("`mpi keys create` printed no key id")
    _mpi_keys(stack, "revoke", key_id.group(1))
    return {
        "reader": reader.split()[-1],
        "other_source": other.split()[-1],
        "revoked": revoked.split()[-1],
    }


def _mpi_keys(stack: Stack, *args: str) -> str:
    """What `mpi keys ARGS` printed, against the stack's database."""
    run = subprocess.run(
        [sys.executable, "-m", "mpi_api.cli", "keys", *args],
        env={**os.environ, "MPI_DATABASE_URL": stack.database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return run.stdout
