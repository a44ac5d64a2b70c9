"""The `$match` benchmark end to end at a tiny size: real api and linker processes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import fhir_match

SIZE = 150


@pytest.fixture
def bench_server(server_url):
    """The test server; the benchmark's database is dropped afterwards."""
    yield server_url
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "mpi_bench_fhir_{SIZE}" WITH (FORCE)'))
    admin.dispose()


def test_a_tiny_run_reports_every_kind_of_query(bench_server, tmp_path):
    out = tmp_path / "fhir_match.json"

    fhir_match.main(size=SIZE, server_url=bench_server, requests=4, concurrency=2, out=out)

    rows = json.loads(out.read_text())["results"]
    assert [r["queries"] for r in rows] == ["exact", "noisy", "stranger", "mixed, 2 clients"]
    assert all(r["stored_records"] == SIZE for r in rows)
    assert all(r["statuses"] == {"200": r["requests"]} for r in rows)
    assert [r["requests"] for r in rows] == [4, 4, 4, 12]
    # A stored patient's exact copy is the one patient POST /records would link it to.
    assert rows[0]["top_grade"] == "certain 4"
    assert all(r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] for r in rows)
