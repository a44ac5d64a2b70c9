"""A steward's merge, unmerge, split and link decision: latency at N stored records.

A fresh database on the server, N synthetic single-record patients loaded with their linker
index (as `fhir_match.py` loads them), then a real linker and api (uvicorn processes); one
steward's requests one at a time over HTTP: merges of two seeded patients (forced: seeded
strangers disagree on SSN and birth date), unmerges of half of them, splits of the other
half's absorbed record back off, and MATCH decisions moving one seeded patient's record to
another. Prints a table; writes JSON.

Usage: .venv/bin/python benchmarks/stewardship.py [--size 100000] [--operations 50]
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).parent))
from linker_scale import KEY, _database, _services
from population import seed
from report import report


def _timed(client: httpx.Client, requests: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """POST each (path, body) in turn; latency mean and percentiles, and the statuses."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    for path, body in requests:
        started = time.perf_counter()
        response = client.post(path, json=body)
        latencies.append(time.perf_counter() - started)
        statuses[response.status_code] += 1
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "operations": len(requests),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "statuses": dict(statuses),
    }


def run(api: str, *, size: int, operations: int, rng: random.Random) -> list[dict[str, Any]]:
    # Seeded golden record ids are 1..size and their mpi_ids `mpi_seed<id>`; distinct patients
    # for every operation.
    ids = rng.sample(range(1, size + 1), 6 * operations)
    pairs = [(ids[2 * i], ids[2 * i + 1]) for i in range(2 * operations)]
    movers = [
        (ids[4 * operations + 2 * i], ids[4 * operations + 2 * i + 1]) for i in range(operations)
    ]
    with httpx.Client(
        base_url=api, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    ) as client:
        merges = [
            (
                f"/patients/mpi_seed{survivor}/merge",
                {"other_mpi_id": f"mpi_seed{absorbed}", "force": True, "reason": "benchmark"},
            )
            for survivor, absorbed in pairs
        ]
        rows = [{"operation": "merge (forced)", **_timed(client, merges)}]
        unmerges = [
            (f"/patients/mpi_seed{absorbed}/unmerge", {}) for _, absorbed in pairs[:operations]
        ]
        rows.append({"operation": "unmerge", **_timed(client, unmerges)})
        # The absorbed patient's seeded record is `SEED`/`S<id - 1>`.
        splits = [
            (
                f"/patients/mpi_seed{survivor}/split",
                {"records": [{"source": "SEED", "source_record_id": f"S{absorbed - 1}"}]},
            )
            for survivor, absorbed in pairs[operations:]
        ]
        rows.append({"operation": "split (new patient)", **_timed(client, splits)})
        decisions = []
        for mover, target in movers:
            (link,) = client.get("/links", params={"mpi_id": f"mpi_seed{mover}"}).json()["items"]
            body = {
                "match_result": "MATCH",
                "mpi_id": f"mpi_seed{target}",
                "version": link["version"],
            }
            decisions.append((f"/links/{link['id']}/decision", body))
        rows.append({"operation": "link decision (MATCH)", **_timed(client, decisions)})
    return rows


def main(
    size: Annotated[int, typer.Option(help="Stored records to seed")] = 100_000,
    server_url: Annotated[
        str, typer.Option(envvar="MPI_BENCH_SERVER_URL", help="Postgres server (admin URL)")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    operations: Annotated[int, typer.Option(help="Operations of each kind")] = 50,
    out: Annotated[Path, typer.Option()] = Path("benchmarks/results/stewardship.json"),
) -> None:
    rng = random.Random(14)
    url = _database(server_url, f"mpi_bench_steward_{size}")
    started = time.perf_counter()
    seed(create_engine(url, poolclass=NullPool), size)
    seed_seconds = round(time.perf_counter() - started, 1)
    with _services(url) as (api, _):
        rows = run(api, size=size, operations=operations, rng=rng)
    # Other jobs may share the cores: the figures are only comparable with their load.
    load_avg = "-".join(f"{x:.1f}" for x in os.getloadavg()[:2])
    results = [
        {"stored_records": size, "seed_seconds": seed_seconds, "load_avg": load_avg, **row}
        for row in rows
    ]
    columns = {
        "stored": "stored_records",
        "operation": "operation",
        "n": "operations",
        "mean ms": "mean_ms",
        "p50 ms": "p50_ms",
        "p95 ms": "p95_ms",
        "max ms": "max_ms",
        "statuses": "statuses",
        "load": "load_avg",
    }
    report(
        "stewardship",
        "A steward's operations (api + linker, 1 process each)",
        columns,
        results,
        out,
    )


if __name__ == "__main__":
    typer.run(main)
