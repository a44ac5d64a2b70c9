"""Candidates from the Postgres index, term frequencies, then the warm Splink scorer."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from mpi_linker.features import MAX_BLOCK_SIZE, TF_COLUMNS
from mpi_linker.score.schemas import CandidateScore, ComparisonRead, ScoreResponse
from mpi_linker.scoring import PairScore, Scorer
from mpi_linker.term_frequencies import FrequencyTable
from mpi_store.repositories import LinkerIndexRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scored:
    response: ScoreResponse
    capped: bool
    generic_keys: list[str]  # the keys left out of the search, their postings past the bound


def score_record(
    session: Session,
    *,
    scorer: Scorer,
    features: Mapping[str, Any],
    blocking_keys: list[str],
    exclude_record_id: int | None,
    max_candidates: int,
    frequencies: FrequencyTable,
) -> Scored:
    """Score a record against every indexed record sharing a blocking key (at most the cap),
    leaving out the keys generic for their value (`MAX_BLOCK_SIZE`), with the term
    frequencies of their values (from `frequencies`, the table in memory)."""
    index = LinkerIndexRepository(session)
    search = index.search(
        blocking_keys,
        bound=MAX_BLOCK_SIZE,
        limit=max_candidates + 1,
        exclude_record_id=exclude_record_id,
    )
    found, generic = search.candidates, search.generic_keys
    capped = len(found) > max_candidates
    if capped:
        log.warning("candidate cap hit: %d candidates kept of more", max_candidates)
        found = found[:max_candidates]
    by_id = {str(c.record_id): c for c in found}
    known = frequencies.values(index)
    record_row = {**features, "unique_id": "new", **_tf_columns(features, known, scorer)}
    candidate_rows = [
        {**c.features, "unique_id": str(c.record_id), **_tf_columns(c.features, known, scorer)}
        for c in found
    ]
    thresholds = scorer.artifact.thresholds
    scored = sorted(
        scorer.score(record_row, candidate_rows), key=lambda s: s.match_probability, reverse=True
    )
    candidates = []
    for rank, s in enumerate(scored):
        found_by = by_id[s.candidate_id]
        tier = thresholds.tier(s.match_probability)
        candidates.append(
            CandidateScore(
                record_id=found_by.record_id,
                golden_record_id=found_by.golden_record_id,
                mpi_id=found_by.mpi_id,
                match_probability=s.match_probability,
                match_weight=s.match_weight,
                tier=tier,
                comparisons=_reasons(s) if tier != "reject" or rank == 0 else {},
                blocking_key_kinds=blocking_key_kinds(found_by.shared_keys),
            )
        )
    response = ScoreResponse(
        model_version=scorer.artifact.version,
        auto_threshold=thresholds.auto,
        reject_threshold=thresholds.reject,
        accept_alone_threshold=thresholds.accept_alone,
        prior_probability=scorer.prior_probability,
        prior_match_weight=scorer.prior_match_weight,
        candidates_found=len(found),
        capped=capped,
        generic_key_kinds=[key.split(":", 1)[0] for key in generic],
        candidates=candidates,
    )
    return Scored(response, capped, generic)


def _reasons(score: PairScore) -> dict[str, ComparisonRead]:
    return {
        name: ComparisonRead(level=c.level, label=c.label, match_weight=c.match_weight)
        for name, c in score.comparisons.items()
    }


def blocking_key_kinds(keys: list[str]) -> list[str]:
    """`ssn:123456789` -> `ssn`: which rules found a candidate, without the values."""
    return sorted({key.split(":", 1)[0] for key in keys})


def _tf_columns(
    row: Mapping[str, Any], known: Mapping[str, Mapping[str, float]], scorer: Scorer
) -> dict[str, Any]:
    """A row's term frequencies; a value the table lacks gets the model's own u for an exact
    match (a neutral adjustment)."""
    return {
        f"tf_{column}": (
            known.get(column, {}).get(value, scorer.neutral_term_frequency(column))
            if (value := row.get(column))
            else None
        )
        for column in TF_COLUMNS
    }
