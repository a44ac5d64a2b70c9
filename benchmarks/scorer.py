"""Linker scoring of one record against its candidates: the compiled scorer beside Splink.

Each probe is a fixture record (`data/fixture`, a training-preset population) with 200
candidates: the records sharing its family-name code and sex first (the block that fills the
candidate cap at 1M stored), then random records. The linker's `Scorer.score` (compiled
levels, the scores with their reasons) and Splink's own real-time `compare_records` (DuckDB)
score the same pairs with the same term frequencies; the table prints both (the compiled
scorer reading the reasons of the best candidate, as a decision does, and of every candidate),
their ratio, and the largest match-weight difference between them. Needs nothing running.

Usage: .venv/bin/python benchmarks/scorer.py [--probes 50] [--candidates 200]
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from splink import DuckDBAPI

from mpi_linker.features import TF_COLUMNS, blocking_keys, features
from mpi_linker.frames import read_records
from mpi_linker.model.artifact import load
from mpi_linker.scoring import Scorer
from mpi_linker.splink_adapter import compare_records

sys.path.insert(0, str(Path(__file__).parent))
from report import report

FIXTURE = Path(__file__).parents[1] / "data" / "fixture"
Row = dict[str, Any]


def _rows(seed: int) -> list[Row]:
    """The fixture's records as scored rows, with term frequencies of the fixture."""
    rows = [features(record) for record in read_records(FIXTURE)]
    for column in TF_COLUMNS:
        counts = Counter(row[column] for row in rows if row[column] is not None)
        for row in rows:
            value = row[column]
            row[f"tf_{column}"] = None if value is None else counts[value] / len(rows)
    random.Random(seed).shuffle(rows)
    for number, row in enumerate(rows):
        row["unique_id"] = str(number)
        row["blocking_keys"] = blocking_keys(row)
    return rows


def _candidates(rows: Sequence[Row], probe: Row, size: int, rng: random.Random) -> list[Row]:
    others = [row for row in rows if row is not probe]
    same_block = [
        row
        for row in others
        if row["family_dm"] == probe["family_dm"] and row["sex"] == probe["sex"]
    ]
    rest = [row for row in others if row not in same_block]
    chosen = same_block[:size]
    while len(chosen) < size:
        chosen.append(rng.choice(rest))
    return chosen


def _best(scorer: Scorer, probe: Row, pairs: list[Row]) -> dict[str, Any]:
    """What a decision reads: every score, the reasons of the best (and of the few above the
    reject bound, which fixture strangers rarely are)."""
    scores = scorer.score(probe, pairs)
    return max(scores, key=lambda s: s.match_probability).comparisons


def _every(scorer: Scorer, probe: Row, pairs: list[Row]) -> list[dict[str, Any]]:
    return [score.comparisons for score in scorer.score(probe, pairs)]


def _milliseconds(call: Callable[[], Any], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _summary(name: str, times: Sequence[float]) -> dict[str, Any]:
    ordered = sorted(times)
    return {
        "scorer": name,
        "p50_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


def main(
    probes: Annotated[int, typer.Option(help="Records scored against their candidates.")] = 50,
    candidates: Annotated[int, typer.Option(help="Candidates per record.")] = 200,
    repeats: Annotated[int, typer.Option(help="Timed calls per probe and scorer.")] = 5,
    seed: int = 7,
    out: Path = Path("benchmarks/results/scorer.json"),
) -> None:
    rng = random.Random(seed)
    rows = _rows(seed)
    artifact = load()
    scorer = Scorer(artifact)
    db = DuckDBAPI()
    settings = dict(artifact.splink)
    compiled_times: list[float] = []
    every_times: list[float] = []
    splink_times: list[float] = []
    largest_difference = 0.0
    for probe in rows[:probes]:
        pairs = _candidates(rows, probe, candidates, rng)
        mine = scorer.score(probe, pairs)

        def splink_call(pairs: list[Row] = pairs, probe: Row = probe) -> list[Mapping[str, Any]]:
            frame = compare_records([probe], pairs, settings, db, sql_cache_key="bench")
            return frame.as_record_list()

        theirs = {str(row["unique_id_r"]): row["match_weight"] for row in splink_call()}
        largest_difference = max(
            largest_difference,
            *(abs(score.match_weight - theirs[score.candidate_id]) for score in mine),
        )
        compiled_times += _milliseconds(lambda p=probe, c=pairs: _best(scorer, p, c), repeats)
        every_times += _milliseconds(lambda p=probe, c=pairs: _every(scorer, p, c), repeats)
        splink_times += _milliseconds(splink_call, repeats)
    compiled = _summary("compiled: scores, the best's reasons", compiled_times)
    every = _summary("compiled: scores, every reason", every_times)
    splink = _summary("Splink compare_records (DuckDB)", splink_times)
    for row in (compiled, every, splink):
        row["candidates"] = candidates
        row["calls"] = probes * repeats
        row["x_compiled"] = round(row["p50_ms"] / compiled["p50_ms"], 1)
    compiled["max_abs_match_weight_difference"] = largest_difference
    report(
        "scorer",
        f"One record against {candidates} candidates (shipped model, {probes} probes)",
        {
            "scorer": "scorer",
            "p50 ms": "p50_ms",
            "p95 ms": "p95_ms",
            "mean ms": "mean_ms",
            "x compiled": "x_compiled",
            "calls": "calls",
        },
        [compiled, every, splink],
        out,
    )
    typer.echo(f"largest |match weight difference|: {largest_difference:.2e}")


if __name__ == "__main__":
    typer.run(main)
