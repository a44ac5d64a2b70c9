"""Online linking at scale: POST /records latency and throughput at N stored records.

For each size: a fresh database on the server, N synthetic patients loaded with their linker
index, term frequencies refreshed, then a real linker and api (uvicorn processes) take
sequential and concurrent POSTs (a fifth are copies of stored patients with a typo). Also
times a bulk load of N records into an empty database. Prints a table; writes JSON.

Usage: .venv/bin/python benchmarks/linker_scale.py --sizes 10000,100000
"""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from mpi_api.bulk import bulk_load
from mpi_linker.model.artifact import load
from mpi_linker.term_frequencies import refresh as refresh_term_frequencies
from mpi_store.db import make_engine, make_sessionmaker, unit_of_work
from mpi_store.migrate import upgrade

sys.path.insert(0, str(Path(__file__).parent))
from population import name_pools, person, seed
from post_records import measure
from report import report

KEY = "mpik_bench_" + "x" * 24


def _database(server_url: str, name: str) -> str:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _services(url: str, extra_env: dict[str, str] | None = None):
    linker_port, api_port = _port(), _port()
    env = {
        **os.environ,
        **(extra_env or {}),
        "MPI_DATABASE_URL": url,
        "MPI_DEV_API_KEY": KEY,
        "MPI_API_ENVIRONMENT": "dev",
        "MPI_API_LINKER_URL": f"http://127.0.0.1:{linker_port}",
    }
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                factory,
                "--factory",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=env,
        )
        for factory, port in (
            ("mpi_linker.app:create_app", linker_port),
            ("mpi_api.app:create_app", api_port),
        )
    ]
    api = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{api}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("services did not become ready")
            time.sleep(0.3)
        yield api, f"http://127.0.0.1:{linker_port}"
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)


def _bodies(url: str, count: int, rng: random.Random, tag: str) -> list[dict[str, Any]]:
    given, family = name_pools()
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        stored = [
            dict(row._mapping)
            for row in connection.execute(
                text(
                    "SELECT given_name, family_name, birth_date, sex, address_line1, city,"
                    " postcode, phone, ssn FROM source_record ORDER BY random() LIMIT :n"
                ),
                {"n": count},
            )
        ]
    engine.dispose()
    bodies = []
    for i in range(count):
        if stored and rng.random() < 0.2:
            body = {**stored[i], "birth_date": stored[i]["birth_date"].isoformat()}
            body["given_name"] = body["given_name"][:-1] + "x"
        else:
            body = person(rng, given, family, "", "")
            body["birth_date"] = body["birth_date"].isoformat()
        bodies.append({**body, "source": "BENCH", "source_record_id": f"{tag}-{i}"})
    return bodies


def _linker_means(linker_url: str) -> dict[str, float]:
    metrics = httpx.get(f"{linker_url}/metrics").text

    def value(name: str) -> float:
        match = re.search(rf"^{name} ([0-9.e+-]+)$", metrics, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    calls = value("mpi_linker_score_seconds_count") or 1.0
    return {
        "linker_score_mean_ms": round(value("mpi_linker_score_seconds_sum") / calls * 1000, 2),
        "candidates_mean": round(value("mpi_linker_candidates_sum") / calls, 1),
        "candidate_cap_hits": value("mpi_linker_candidate_cap_hits_total"),
    }


def _bulk(server_url: str, size: int, rng: random.Random) -> dict[str, Any]:
    url = _database(server_url, f"mpi_bench_bulk_{size}")
    given, family = name_pools()
    payloads = []
    for i in range(size):
        body = person(rng, given, family, "BULK", f"B{i}")
        payloads.append({**body, "birth_date": body["birth_date"].isoformat()})
    engine = make_engine(url, pool_size=1)
    started = time.perf_counter()
    with unit_of_work(make_sessionmaker(engine)) as session:
        report = bulk_load(session, payloads=payloads, artifact=load())
    elapsed = time.perf_counter() - started
    engine.dispose()
    return {
        "bulk_records": report.records,
        "bulk_seconds": round(elapsed, 1),
        "bulk_records_per_s": round(report.records / elapsed, 1),
    }


def main(
    sizes: Annotated[str, typer.Option(help="Stored-record counts, comma separated")] = "10000",
    server_url: Annotated[
        str, typer.Option(envvar="MPI_BENCH_SERVER_URL", help="Postgres server (admin URL)")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    requests: Annotated[int, typer.Option(help="Sequential requests per size")] = 300,
    concurrent_requests: Annotated[int, typer.Option(help="Requests at concurrency 16")] = 800,
    bulk: Annotated[bool, typer.Option(help="Also time a bulk load of each size")] = True,
    out: Annotated[Path, typer.Option()] = Path("benchmarks/results/linker_scale.json"),
) -> None:
    rng = random.Random(11)
    results = []
    for size in (int(s) for s in sizes.split(",")):
        url = _database(server_url, f"mpi_bench_{size}")
        started = time.perf_counter()
        seed(create_engine(url, poolclass=NullPool), size)
        engine = make_engine(url, pool_size=1)
        with unit_of_work(make_sessionmaker(engine)) as session:
            refresh_term_frequencies(session, load())
        engine.dispose()
        row: dict[str, Any] = {
            "stored_records": size,
            "seed_seconds": round(time.perf_counter() - started, 1),
        }
        with _services(url) as (api, linker):
            measure(api, KEY, _bodies(url, 20, rng, "warm"), 1)
            sequential = measure(api, KEY, _bodies(url, requests, rng, "seq"), 1)
            row.update({f"seq_{k}": v for k, v in sequential.items()})
            row.update(_linker_means(linker))
            concurrent = measure(api, KEY, _bodies(url, concurrent_requests, rng, "c16"), 16)
            row.update({f"c16_{k}": v for k, v in concurrent.items()})
        if bulk:
            row.update(_bulk(server_url, size, rng))
        results.append(row)
        Console().print(row)
    columns = {
        "stored": "stored_records",
        "p50 ms": "seq_p50_ms",
        "p95 ms": "seq_p95_ms",
        "p99 ms": "seq_p99_ms",
        "linker ms": "linker_score_mean_ms",
        "candidates": "candidates_mean",
        "16 clients rec/s": "c16_throughput_rps",
        "16 clients p99 ms": "c16_p99_ms",
        "bulk rec/s": "bulk_records_per_s",
    }
    report(
        "linker_scale",
        "Online linking (api + linker, 1 process each, 2 cores)",
        columns,
        results,
        out,
    )


if __name__ == "__main__":
    typer.run(main)
