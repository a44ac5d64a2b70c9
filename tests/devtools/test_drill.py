"""`mpi drill --profile short` runs every check against its own stack and reports all green."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_short_drill_is_green(tmp_path):
    out = tmp_path / "drill.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPI_")}
    done = subprocess.run(
        [sys.executable, "-m", "mpi_api.cli", "drill", "--profile", "short", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    assert report["passed"], report
    checks = {check["name"]: check for check in report["checks"]}
    assert set(checks) == {"fuzz", "auth", "hostile input", "writers", "faults", "PHI scan"}
    assert checks["writers"]["figures"]["duplicates"] == 0
    for restarted in ("linker", "postgres", "worker", "redis"):
        assert checks["faults"]["figures"][f"{restarted} restarted"] == "yes"
    assert "classifier down" in checks["faults"]["scope"]
    assert checks["faults"]["figures"]["pairs classified after the outage"] > 0
    assert checks["faults"]["figures"]["classifier retries"] > 0
    assert "mpi drill" in done.stdout


def test_drill_refuses_an_unknown_profile():
    done = subprocess.run(
        [sys.executable, "-m", "mpi_api.cli", "drill", "--profile", "long"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--profile" in done.stderr
