"""Candidates from the Postgres index, term frequencies, then the warm Splink scorer."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from mpi_linker.features import TF_COLUMNS
from mpi_linker.score.schemas import CandidateScore, ComparisonRead, ScoreResponse
from mpi_linker.scoring import Scorer
from mpi_store.repositories import Candidate, LinkerIndexRepository

log = logging.getLogger(__name__)


def score_record(
    session: Session,
    *,
    scorer: Scorer,
    features: Mapping[str, Any],
    blocking_keys: list[str],
    exclude_record_id: int | None,
    max_candidates: int,
) -> tuple[ScoreResponse, bool]:
    """Score a record against every indexed record sharing a blocking key (at most the cap)."""
    index = LinkerIndexRepository(session)
    found = index.candidates(
        blocking_keys, limit=max_candidates + 1, exclude_record_id=exclude_record_id
    )
    capped = len(found) > max_candidates
    if capped:
        log.warning("candidate cap hit: %d candidates kept of more", max_candidates)
        found = found[:max_candidates]
    by_id = {str(c.record_id): c for c in found}
    tfs = _term_frequencies(index, scorer, features, found)
    record_row = {**features, "unique_id": "new", **_tf_columns(features, tfs)}
    candidate_rows = [
        {**c.features, "unique_id": str(c.record_id), **_tf_columns(c.features, tfs)} for c in found
    ]
    thresholds = scorer.artifact.thresholds
    scored = sorted(
        scorer.score(record_row, candidate_rows), key=lambda s: s.match_probability, reverse=True
    )
    candidates = [
        CandidateScore(
            record_id=by_id[s.candidate_id].record_id,
            golden_record_id=by_id[s.candidate_id].golden_record_id,
            mpi_id=by_id[s.candidate_id].mpi_id,
            match_probability=s.match_probability,
            match_weight=s.match_weight,
            tier=thresholds.tier(s.match_probability),
            comparisons={
                name: ComparisonRead(level=c.level, label=c.label, match_weight=c.match_weight)
                for name, c in s.comparisons.items()
            },
            blocking_key_kinds=blocking_key_kinds(by_id[s.candidate_id].shared_keys),
        )
        for s in scored
    ]
    response = ScoreResponse(
        model_version=scorer.artifact.version,
        auto_threshold=thresholds.auto,
        reject_threshold=thresholds.reject,
        accept_alone_threshold=thresholds.accept_alone,
        prior_probability=scorer.prior_probability,
        prior_match_weight=scorer.prior_match_weight,
        candidates_found=len(found),
        capped=capped,
        candidates=candidates,
    )
    return response, capped


def blocking_key_kinds(keys: list[str]) -> list[str]:
    """`ssn:123456789` -> `ssn`: which rules found a candidate, without the values."""
    return sorted({key.split(":", 1)[0] for key in keys})


def _term_frequencies(
    index: LinkerIndexRepository,
    scorer: Scorer,
    features: Mapping[str, Any],
    candidates: list[Candidate],
) -> dict[str, dict[str, float]]:
    wanted = {
        column: sorted(
            {v for v in (features.get(column), *(c.features.get(column) for c in candidates)) if v}
        )
        for column in TF_COLUMNS
    }
    known = index.term_frequencies(wanted)
    # Unseen values get the model's own u for an exact match: a neutral adjustment.
    return {
        column: {
            value: known[column].get(value, scorer.neutral_term_frequency(column))
            for value in values
        }
        for column, values in wanted.items()
    }


def _tf_columns(row: Mapping[str, Any], tfs: dict[str, dict[str, float]]) -> dict[str, Any]:
    return {
        f"tf_{column}": tfs[column].get(row.get(column) or "") if row.get(column) else None
        for column in TF_COLUMNS
    }
