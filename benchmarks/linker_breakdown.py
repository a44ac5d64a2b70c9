"""Where the linker's time goes for one record at N stored: search, term frequencies, scoring.

A fresh database with N synthetic patients (`population.py`) and their index, term
frequencies refreshed; then records drawn as `linker_scale.py` draws them (a fifth typo'd
copies of stored patients) are scored in-process by `mpi_linker.score.service.score_record`,
one at a time, with each step timed: the candidate search (`LinkerIndexRepository.search`),
the term-frequency lookup (the linker's table in memory, read at the first record, a warm-up
one), the compiled scorer, and the rest (building the answer). Needs a
Postgres superuser on 127.0.0.1:5432 (`--server-url`).

Usage: .venv/bin/python benchmarks/linker_breakdown.py --size 100000 [--records 50]
"""

from __future__ import annotations

import functools
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from mpi_linker.features import blocking_keys, features
from mpi_linker.model.artifact import load
from mpi_linker.score import service
from mpi_linker.scoring import Scorer
from mpi_linker.settings import Settings
from mpi_linker.term_frequencies import FrequencyTable, refresh
from mpi_store.db import make_engine, make_sessionmaker, unit_of_work
from mpi_store.repositories import LinkerIndexRepository

sys.path.insert(0, str(Path(__file__).parent))
from linker_scale import _bodies, _database
from population import seed
from report import report


def _timed(owner: Any, name: str, spent: dict[str, float]) -> None:
    """Wrap `owner.name` to add the seconds each call takes to `spent[name]`."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started

    setattr(owner, name, wrapper)


def main(
    size: Annotated[int, typer.Option(help="Stored records")] = 100_000,
    records: Annotated[int, typer.Option(help="Records scored (after 10 to warm up)")] = 50,
    server_url: Annotated[
        str, typer.Option(envvar="MPI_BENCH_SERVER_URL", help="Postgres server (admin URL)")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    out: Annotated[Path, typer.Option()] = Path("benchmarks/results/linker_breakdown.json"),
) -> None:
    url = _database(server_url, f"mpi_bench_breakdown_{size}")
    seed(create_engine(url, poolclass=NullPool), size)
    engine = make_engine(url, pool_size=1)
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as session:
        refresh(session, load())
    scorer = Scorer(load())
    cap = Settings(database_url=url).max_candidates
    rows = [features(body) for body in _bodies(url, records + 10, random.Random(3), "b")]
    frequencies = FrequencyTable()
    spent: dict[str, float] = defaultdict(float)
    _timed(LinkerIndexRepository, "search", spent)
    _timed(FrequencyTable, "values", spent)
    _timed(Scorer, "score", spent)
    candidates = 0
    for number, row in enumerate(rows):
        if number == 10:
            spent.clear()
            candidates = 0
        with factory() as session:
            started = time.perf_counter()
            answer = service.score_record(
                session,
                scorer=scorer,
                features=row,
                blocking_keys=blocking_keys(row),
                exclude_record_id=None,
                max_candidates=cap,
                frequencies=frequencies,
            )
            spent["total"] += time.perf_counter() - started
        candidates += answer.response.candidates_found
    engine.dispose()
    parts = {name: spent[name] / records * 1000 for name in ("search", "values", "score")}
    result = {
        "stored_records": size,
        "records": records,
        "candidates_mean": round(candidates / records, 1),
        "total_ms": round(spent["total"] / records * 1000, 2),
        **{f"{name}_ms": round(ms, 2) for name, ms in parts.items()},
        "rest_ms": round(spent["total"] / records * 1000 - sum(parts.values()), 2),
    }
    report(
        "linker_breakdown",
        f"The linker's time per record at {size:,} stored (in-process, one at a time)",
        {
            "stored": "stored_records",
            "candidates": "candidates_mean",
            "total ms": "total_ms",
            "search ms": "search_ms",
            "term frequencies ms": "values_ms",
            "scoring ms": "score_ms",
            "rest ms": "rest_ms",
        },
        [result],
        out,
    )


if __name__ == "__main__":
    typer.run(main)
