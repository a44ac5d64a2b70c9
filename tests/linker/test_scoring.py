"""The scorer gives each record its own scores, however many callers share it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mpi_linker.features import TF_COLUMNS
from mpi_linker.frames import frame, read_records
from mpi_linker.model.artifact import load
from mpi_linker.scoring import Scorer

FIXTURE = Path(__file__).parents[2] / "data" / "fixture"


@pytest.fixture(scope="module")
def scorer():
    return Scorer(load())


@pytest.fixture(scope="module")
def requests():
    """Twelve fixture records, each with a different slice of the others as candidates (some
    candidates shared between records, one record with none)."""
    rows = [
        {**row, **{f"tf_{c}": 0.001 for c in TF_COLUMNS}}
        for row in frame(read_records(FIXTURE)).to_pylist()
    ]
    return [(rows[i], rows[20 + 7 * i : 60 + 11 * i] if i != 5 else []) for i in range(12)]


def _as_comparable(scores):
    return sorted(
        (s.candidate_id, s.match_probability, s.match_weight, sorted(s.comparisons.items()))
        for s in scores
    )


def test_each_candidate_is_scored_on_its_own(scorer, requests):
    record, candidates = requests[3]
    together = _as_comparable(scorer.score(record, candidates))
    one_by_one = sorted(
        item
        for candidate in candidates
        for item in _as_comparable(scorer.score(record, [candidate]))
    )

    assert together == one_by_one
    assert len(together) == len(candidates)
    assert scorer.score(*requests[5]) == []


def test_concurrent_callers_get_their_own_scores(scorer, requests):
    alone = [_as_comparable(scorer.score(record, candidates)) for record, candidates in requests]

    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(lambda r: _as_comparable(scorer.score(*r)), requests * 4))

    assert concurrent == alone * 4
    assert any(s[1] > 0.5 for scores in alone for s in scores)
