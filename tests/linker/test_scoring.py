"""The scorer gives each record the same scores whether it is scored alone or with others."""

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
    scorer = Scorer(load())
    yield scorer
    scorer.close()


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


def test_records_scored_together_get_their_own_scores(scorer, requests):
    alone = [_as_comparable(scorer.score(record, candidates)) for record, candidates in requests]
    together = [_as_comparable(scores) for scores in scorer.score_many(requests)]

    assert together == alone
    assert [len(scores) for scores in together] == [len(c) for _, c in requests]
    assert any(s[1] > 0.5 for scores in together for s in scores)


def test_concurrent_callers_get_their_own_scores(scorer, requests):
    alone = [_as_comparable(scorer.score(record, candidates)) for record, candidates in requests]

    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(lambda r: _as_comparable(scorer.score(*r)), requests * 4))

    assert concurrent == alone * 4


def test_a_closed_scorer_scores_again(requests):
    scorer = Scorer(load())
    record, candidates = requests[0]
    first = _as_comparable(scorer.score(record, candidates))
    scorer.close()

    assert _as_comparable(scorer.score(record, candidates)) == first
    scorer.close()
