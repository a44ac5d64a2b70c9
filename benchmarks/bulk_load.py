"""`mpi bulk-load` at scale: records per second and peak memory for N synthetic records.

For each size: a dataset folder of N records (`records.parquet`, the layout `mpi bulk-load`
reads) written from `population.person` — people with names from the evaluation set, a share of
them seen again at a second (and third) facility with a typo, a changed field or a missing one —
then a fresh database and `mpi bulk-load DIR` run as a subprocess, timed end to end (reading,
validation, inserts, Splink predict, decisions, links, commit), with its peak RSS.

Usage: .venv/bin/python benchmarks/bulk_load.py --sizes 100000,1000000
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.console import Console

from mpi_store.datasets import RECORDS_FILE
from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS

sys.path.insert(0, str(Path(__file__).parent))
from linker_scale import _database
from population import name_pools, person
from report import report

SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("source_record_id", pa.string()),
        *[(f, pa.date32() if f == "birth_date" else pa.string()) for f in DEMOGRAPHIC_FIELDS],
    ]
)
SOURCES = ("facility-01", "facility-02", "facility-03")


def _typo(rng: random.Random, value: str) -> str:
    if len(value) < 3:
        return value
    i = rng.randrange(1, len(value))
    return value[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + value[i + 1 :]


def _copy(rng: random.Random, original: dict[str, Any], source: str, rid: str) -> dict[str, Any]:
    """The same person as another facility records them: one field changed or missing."""
    record = {**original, "source": source, "source_record_id": rid}
    change = rng.choice(("given", "family", "birth", "phone", "address", "ssn", "none"))
    if change == "given":
        record["given_name"] = _typo(rng, record["given_name"])
    elif change == "family":
        record["family_name"] = _typo(rng, record["family_name"])
    elif change == "birth":
        birth: dt.date = record["birth_date"]
        record["birth_date"] = birth.replace(
            day=rng.choice([d for d in range(1, 29) if d != birth.day])
        )
    elif change in ("phone", "ssn"):
        record[change] = None
    elif change == "address":
        record["address_line1"] = None
        record["postcode"] = None
    return record


def write_dataset(folder: Path, size: int, *, duplicate_share: float, seed: int) -> dict[str, int]:
    """`size` records: people, and for `duplicate_share` of them a second record (a tenth of
    those a third) at another facility. Records are shuffled so copies arrive apart."""
    rng = random.Random(seed)
    given, family = name_pools()
    records: list[dict[str, Any]] = []
    people = 0
    while len(records) < size:
        people += 1
        first = person(rng, given, family, SOURCES[0], f"P{people}")
        records.append(first)
        if rng.random() < duplicate_share:
            records.append(_copy(rng, first, SOURCES[1], f"P{people}"))
            if rng.random() < 0.1:
                records.append(_copy(rng, first, SOURCES[2], f"P{people}"))
    records = records[:size]
    rng.shuffle(records)
    folder.mkdir(parents=True, exist_ok=True)
    columns = {name: [r.get(name) for r in records] for name in SCHEMA.names}
    pq.write_table(pa.table(columns, schema=SCHEMA), folder / RECORDS_FILE, compression="zstd")
    return {"records": len(records), "people": people}


def run_bulk_load(url: str, folder: Path) -> dict[str, Any]:
    """`mpi bulk-load folder` into `url`: wall time, peak RSS, and what it printed."""
    mpi = Path(sys.executable).parent / "mpi"
    env = {**os.environ, "MPI_DATABASE_URL": url}
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(mpi), "bulk-load", str(folder)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"mpi bulk-load failed: {output}")
    # The command's summary table: one "name │ value" row per figure.
    rows = {
        cells[0]: cells[1].replace(",", "")
        for line in output.splitlines()
        if len(cells := [c.strip() for c in line.strip("│┃ ").split("│")]) == 2
    }
    return {
        "seconds": round(elapsed, 1),
        "peak_rss_mib": round(usage.ru_maxrss / 1024),
        "golden_records": int(rows["patients"]),
        "candidate_pairs": int(rows["pairs at or above the reject bound"]),
        "output": output.strip(),
    }


def main(
    sizes: Annotated[str, typer.Option(help="Record counts, comma separated")] = "100000",
    duplicate_share: Annotated[
        float, typer.Option(help="Share of people with a second record")
    ] = 0.3,
    server_url: Annotated[
        str, typer.Option(envvar="MPI_BENCH_SERVER_URL", help="Postgres server (admin URL)")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    data_root: Annotated[Path, typer.Option(help="Where the dataset folders go")] = Path(
        "/tmp/mpi_bulk_bench"
    ),
    seed: Annotated[int, typer.Option()] = 5,
    out: Annotated[Path, typer.Option()] = Path("benchmarks/results/bulk_load.json"),
) -> None:
    results = []
    for size in (int(s) for s in sizes.split(",")):
        folder = data_root / f"records_{size}"
        started = time.perf_counter()
        counts = write_dataset(folder, size, duplicate_share=duplicate_share, seed=seed)
        generate_seconds = time.perf_counter() - started
        url = _database(server_url, f"mpi_bench_bulk_{size}")
        load_before = os.getloadavg()
        run = run_bulk_load(url, folder)
        row = {
            "records": counts["records"],
            "people": counts["people"],
            "generate_seconds": round(generate_seconds, 1),
            **run,
            "records_per_s": round(counts["records"] / run["seconds"], 1),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "database": url.rsplit("/", 1)[-1],
        }
        results.append(row)
        Console().print(row)
    columns = {
        "records": "records",
        "people": "people",
        "pairs ≥ reject": "candidate_pairs",
        "patients": "golden_records",
        "seconds": "seconds",
        "records/s": "records_per_s",
        "peak RSS MiB": "peak_rss_mib",
        "load avg": "loadavg_before",
    }
    report(
        "bulk_load",
        "mpi bulk-load (one process, Splink on DuckDB, Postgres on loopback)",
        columns,
        results,
        out,
    )


if __name__ == "__main__":
    typer.run(main)
