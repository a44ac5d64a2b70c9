"""Benchmark `POST /records` against a running MPI: latency percentiles and throughput.

Usage: .venv/bin/python benchmarks/post_records.py --url http://127.0.0.1:8000 --api-key KEY \
           [--requests 500] [--concurrency 1] [--replay] \
           [--out benchmarks/results/post_records.json]

`--replay` sends the same bodies a second time, timed as a row of its own: replays of stored
content (an interface resending its queue).
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import string
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table


def _records(count: int, seed: int) -> list[dict[str, Any]]:
    """New patients, plus one copy in five of an earlier patient from another facility."""
    rng = random.Random(seed)
    run = "".join(rng.choices(string.ascii_uppercase, k=6))
    bodies: list[dict[str, Any]] = []
    for i in range(count):
        if bodies and rng.random() < 0.2:
            body = {**rng.choice(bodies), "source": "BENCH2", "source_record_id": f"{run}-{i}"}
        else:
            body = {
                "source": "BENCH1",
                "source_record_id": f"{run}-{i}",
                "given_name": "".join(rng.choices(string.ascii_lowercase, k=7)),
                "family_name": "".join(rng.choices(string.ascii_lowercase, k=9)),
                "birth_date": f"{rng.randint(1930, 2020)}-{rng.randint(1, 12):02d}-"
                f"{rng.randint(1, 28):02d}",
                "sex": rng.choice(["female", "male"]),
                "ssn": f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
                "postcode": f"{rng.randint(1000, 99999):05d}",
                "clinical": {
                    "conditions": [
                        {
                            "code_system": "SNOMED",
                            "code": str(rng.randint(10**6, 10**7)),
                            "onset": "2015-06-01",
                        }
                        for _ in range(5)
                    ]
                },
            }
        bodies.append(body)
    return bodies


def measure(
    url: str,
    api_key: str,
    bodies: list[dict[str, Any]],
    concurrency: int,
    *,
    path: str = "/records",
    headers: dict[str, str] | None = None,
    on_response: Callable[[dict[str, Any], httpx.Response], None] | None = None,
) -> dict[str, Any]:
    """POST every body to `path` with `concurrency` clients; latency percentiles and
    throughput. `on_response` sees each body with its answer (outside the timing)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    with httpx.Client(
        base_url=url,
        headers={"Authorization": f"Bearer {api_key}", **(headers or {})},
        timeout=60,
        limits=httpx.Limits(max_connections=concurrency),
    ) as client:

        def post(body: dict[str, Any]) -> None:
            started = time.perf_counter()
            response = client.post(path, json=body)
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if on_response is not None:
                on_response(body, response)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(post, bodies))
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(bodies),
        "concurrency": concurrency,
        "p50_ms": round(cuts[49] * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "throughput_rps": round(len(bodies) / elapsed, 1),
        "statuses": statuses,
    }


def main(
    url: Annotated[str, typer.Option(help="Base URL of a running MPI")] = "http://127.0.0.1:8000",
    api_key: Annotated[str, typer.Option(help="A records:write key", envvar="MPI_API_KEY")] = "",
    requests: Annotated[int, typer.Option(help="Requests to send")] = 500,
    concurrency: Annotated[int, typer.Option(help="Concurrent clients")] = 1,
    seed: Annotated[int, typer.Option()] = 7,
    out: Annotated[Path, typer.Option()] = Path("benchmarks/results/post_records.json"),
    replay: Annotated[bool, typer.Option(help="Then send the same bodies again")] = False,
) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}) as client:
        client.post("/records", json=_records(1, seed + 1)[0])  # warm-up, not measured
    bodies = _records(requests, seed)
    result: dict[str, Any] = {
        "benchmark": "post_records",
        **measure(url, api_key, bodies, concurrency),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    if replay:
        result["replay"] = measure(url, api_key, bodies, concurrency)
    table = Table(title=f"POST /records — {requests} requests, concurrency {concurrency}")
    for column in ("pass", "p50 ms", "p95 ms", "p99 ms", "max ms", "req/s", "statuses"):
        table.add_column(column)
    for name, row in (("first", result), ("replay", result.get("replay"))):
        if row is not None:
            table.add_row(
                name,
                *(str(row[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "throughput_rps")),
                json.dumps(row["statuses"]),
            )
    Console().print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    typer.run(main)
