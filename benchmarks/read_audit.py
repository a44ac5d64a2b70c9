"""What the audit of reads costs a read: `GET /patients/{mpi_id}`'s transaction with and
without its `read_audit` row, and with the row under `synchronous_commit = off`.

A fresh database on the server with a few patients, then one connection running the read's
queries (the patient, its linked records) in a transaction per read, in a row. Prints a
table; writes JSON.

Usage: .venv/bin/python benchmarks/read_audit.py [--reads 2000]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import text

from mpi_api.audit.service import audit_read
from mpi_api.auth.service import Principal
from mpi_api.patients.service import get_patient, patient_read
from mpi_store.db import make_engine, make_sessionmaker, unit_of_work
from mpi_store.domain.enums import ReadAction
from mpi_store.repositories import GoldenRecordRepository

sys.path.insert(0, str(Path(__file__).parent))
from linker_scale import _database
from report import report

READER = Principal(None, "bench", frozenset({"patients:read"}), None)
PATIENTS = 100
VARIANTS = ("no audit row", "audit row", "audit row, synchronous_commit off")


def _read(session: Any, mpi_id: str, variant: str) -> None:
    if variant == VARIANTS[2]:
        session.execute(text("SET LOCAL synchronous_commit = off"))
    golden, _, members = get_patient(session, mpi_id=mpi_id)
    patient_read(golden, members)
    if variant != VARIANTS[0]:
        audit_read(
            session,
            principal=READER,
            action=ReadAction.READ_PATIENT,
            mpi_ids=[golden.mpi_id],
            result_count=1,
        )


def main(
    server_url: Annotated[
        str, typer.Option(envvar="MPI_BENCH_SERVER_URL", help="Postgres server (admin URL)")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    reads: Annotated[int, typer.Option(help="Reads of each variant, one after another")] = 2000,
    out: Annotated[Path, typer.Option()] = Path("benchmarks/results/read_audit.json"),
) -> None:
    engine = make_engine(_database(server_url, "mpi_bench_read_audit"), pool_size=1)
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as session:
        goldens = GoldenRecordRepository(session)
        mpi_ids = [goldens.create().mpi_id for _ in range(PATIENTS)]
    results = []
    # Other jobs may share the cores: the figures are only comparable with their load.
    load_avg = "-".join(f"{x:.1f}" for x in os.getloadavg()[:2])
    for variant in VARIANTS:
        timings = []
        for i in range(reads):
            started = time.perf_counter()
            with unit_of_work(factory) as session:
                _read(session, mpi_ids[i % PATIENTS], variant)
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        results.append(
            {
                "variant": variant,
                "reads": reads,
                "p50_ms": round(statistics.median(timings), 2),
                "p99_ms": round(timings[int(0.99 * len(timings)) - 1], 2),
                "mean_ms": round(statistics.fmean(timings), 2),
                "load_avg": load_avg,
            }
        )
    engine.dispose()
    columns = {
        "variant": "variant",
        "reads": "reads",
        "p50 ms": "p50_ms",
        "p99 ms": "p99_ms",
        "mean ms": "mean_ms",
        "load": "load_avg",
    }
    report("read_audit", "A patient read's transaction, one connection", columns, results, out)


if __name__ == "__main__":
    typer.run(main)
