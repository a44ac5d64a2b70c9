"""`POST /fhir/Patient/$match` latency and throughput at N stored records.

A fresh database on the server, N synthetic patients loaded with their linker index (as
`linker_scale.py` loads them), term frequencies refreshed, then a real linker and api (uvicorn
processes) answer `$match` queries one at a time over HTTP: exact copies of stored patients,
noisy copies (a typo'd given name, no SSN, no phone) and strangers (people nobody stored), then
all three mixed at `--concurrency` clients. Prints a table; writes JSON.

Usage: .venv/bin/python benchmarks/fhir_match.py [--size 100000] [--requests 200]
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from mpi_linker.model.artifact import load
from mpi_linker.term_frequencies import refresh as refresh_term_frequencies
from mpi_store.db import make_engine, make_sessionmaker, unit_of_work
from mpi_store.fhir_convert import SSN_SYSTEM

sys.path.insert(0, str(Path(__file__).parent))
from linker_scale import KEY, _database, _linker_means, _services
from population import name_pools, person, seed
from post_records import measure
from report import report

MATCH_PATH = "/fhir/Patient/$match"
FHIR_JSON = {"Content-Type": "application/fhir+json"}
GRADE_URL = "http://hl7.org/fhir/StructureDefinition/match-grade"
KINDS = ("exact", "noisy", "stranger")


def patient(row: dict[str, Any]) -> dict[str, Any]:
    """A stored record (or a generated person) as a FHIR Patient with no MRN."""
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "name": [{"family": row["family_name"], "given": [row["given_name"]]}],
        "gender": row["sex"],
        "birthDate": row["birth_date"].isoformat(),
        "address": [
            {"line": [row["address_line1"]], "city": row["city"], "postalCode": row["postcode"]}
        ],
    }
    if row.get("phone"):
        resource["telecom"] = [{"system": "phone", "value": row["phone"]}]
    if row.get("ssn"):
        resource["identifier"] = [{"system": SSN_SYSTEM, "value": row["ssn"]}]
    return resource


def parameters(resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": resource},
            {"name": "count", "valueInteger": 10},
        ],
    }


def queries(url: str, count: int, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """`count` queries of each kind: exact and noisy copies of stored records, strangers."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        # The same stored patients on every run of a size (the seeding is deterministic too).
        connection.execute(text("SELECT setseed(:s)"), {"s": rng.random()})
        stored = [
            dict(row._mapping)
            for row in connection.execute(
                text(
                    "SELECT given_name, family_name, birth_date, sex, address_line1, city,"
                    " postcode, phone, ssn FROM source_record ORDER BY random() LIMIT :n"
                ),
                {"n": 2 * count},
            )
        ]
    engine.dispose()
    exact, noisy = stored[:count], stored[count:]
    given, family = name_pools()
    strangers = [person(rng, given, family, "", "") for _ in range(count)]
    for row in noisy:
        row["given_name"] = row["given_name"][:-1] + "x"
        row["ssn"] = row["phone"] = None
    return {
        kind: [parameters(patient(r)) for r in rows]
        for kind, rows in (("exact", exact), ("noisy", noisy), ("stranger", strangers))
    }


def _top_grades(grades: Counter[str]) -> Callable[[dict[str, Any], httpx.Response], None]:
    """Count the best entry's match grade of each answer (or why there is none)."""

    def record(_: dict[str, Any], response: httpx.Response) -> None:
        entries = response.json().get("entry") if response.status_code == 200 else None
        if response.status_code != 200:
            grades[f"status {response.status_code}"] += 1
        elif not entries:
            grades["none"] += 1
        else:
            extension = entries[0]["search"]["extension"]
            grades[next(e["valueCode"] for e in extension if e["url"] == GRADE_URL)] += 1

    return record


def run(
    url: str, api: str, linker: str, *, requests: int, concurrency: int, rng: random.Random
) -> list[dict[str, Any]]:
    """Warm up, then one row per kind (sequential, with the linker's means over them) and one
    mixed row at `concurrency`."""
    bodies = queries(url, requests, rng)
    warm = queries(url, 10, rng)
    measure(
        api, KEY, [b for kind in KINDS for b in warm[kind]], 1, path=MATCH_PATH, headers=FHIR_JSON
    )
    rows = []
    for kind in KINDS:
        grades: Counter[str] = Counter()
        result = measure(
            api,
            KEY,
            bodies[kind],
            1,
            path=MATCH_PATH,
            headers=FHIR_JSON,
            on_response=_top_grades(grades),
        )
        top = ", ".join(f"{grade} {n}" for grade, n in sorted(grades.items()))
        rows.append({"queries": kind, **result, "top_grade": top})
    means = _linker_means(linker)
    rows = [{**row, **means} for row in rows]
    mixed = [b for kind in KINDS for b in bodies[kind]]
    rng.shuffle(mixed)
    result = measure(api, KEY, mixed, concurrency, path=MATCH_PATH, headers=FHIR_JSON)
    rows.append({"queries": f"mixed, {concurrency} clients", **result})
    return rows


def main(
    size: Annotated[int, typer.Option(help="Stored records to seed")] = 100_000,
    server_url: Annotated[
        str, typer.Option(envvar="MPI_BENCH_SERVER_URL", help="Postgres server (admin URL)")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    requests: Annotated[int, typer.Option(help="Sequential queries of each kind")] = 200,
    concurrency: Annotated[int, typer.Option(help="Clients for the mixed run")] = 8,
    out: Annotated[Path, typer.Option()] = Path("benchmarks/results/fhir_match.json"),
) -> None:
    rng = random.Random(13)
    url = _database(server_url, f"mpi_bench_fhir_{size}")
    started = time.perf_counter()
    seed(create_engine(url, poolclass=NullPool), size)
    engine = make_engine(url, pool_size=1)
    with unit_of_work(make_sessionmaker(engine)) as session:
        refresh_term_frequencies(session, load())
    engine.dispose()
    seed_seconds = round(time.perf_counter() - started, 1)
    with _services(url) as (api, linker):
        rows = run(url, api, linker, requests=requests, concurrency=concurrency, rng=rng)
    # Other jobs may share the cores: the figures are only comparable with their load.
    load_avg = "-".join(f"{x:.1f}" for x in os.getloadavg()[:2])
    results = [
        {"stored_records": size, "seed_seconds": seed_seconds, "load_avg": load_avg, **row}
        for row in rows
    ]
    columns = {
        "stored": "stored_records",
        "queries": "queries",
        "requests": "requests",
        "p50 ms": "p50_ms",
        "p95 ms": "p95_ms",
        "p99 ms": "p99_ms",
        "mean ms": "mean_ms",
        "req/s": "throughput_rps",
        "linker ms": "linker_score_mean_ms",
        "candidates": "candidates_mean",
        "best entry's grade": "top_grade",
    }
    report(
        "fhir_match",
        "POST /fhir/Patient/$match (api + linker, 1 process each)",
        columns,
        results,
        out,
    )


if __name__ == "__main__":
    typer.run(main)
