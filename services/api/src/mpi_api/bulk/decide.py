"""Each record's decision in input order, against the records before it, as the online path
makes it (`mpi_linker.decision.decide`); golden records are known by position until they are
stored."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mpi_api.bulk.ingest import StoredRecord
from mpi_api.bulk.predict import RecordPairs
from mpi_api.bulk.progress import Progress, Step
from mpi_linker.decision import decide
from mpi_linker.model.artifact import ModelArtifact
from mpi_linker.score.schemas import CandidateScore, ComparisonRead, ScoreResponse
from mpi_linker.scoring import Scorer
from mpi_store.domain.enums import LinkSource, LinkState, MatchResult
from mpi_store.repositories.golden_records import new_mpi_id


@dataclass(frozen=True, slots=True)
class GrayPair:
    """`mpi_linker.decision.GrayPair` with its comparison weights as JSON text (a tenth of the
    memory)."""

    candidate_record_id: int
    candidate_position: int
    probability: float
    match_weight: float
    comparison_weights: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """A record's `mpi_linker.decision.Decision`, compact until it is written: its golden record by
    position and its reason as JSON text."""

    position: int
    match_result: MatchResult
    link_source: LinkSource
    link_state: LinkState
    probability: float | None
    match_weight: float | None
    reason: str
    gray_pairs: tuple[GrayPair, ...]


@dataclass(frozen=True)
class Decided:
    outcomes: list[Outcome]  # one per record, in input order
    mpi_ids: list[str]  # the golden records, by position
    members: Mapping[int, list[StoredRecord]]  # each golden record's records, by position
    model_version: str
    accept_alone: float


# Decisions reported to the progress a thousand at a time (each report takes a lock).
PROGRESS_EVERY = 1000


def decide_in_order(
    records: Sequence[StoredRecord],
    pairs: Iterator[RecordPairs],
    scorer: Scorer,
    artifact: ModelArtifact,
    progress: Progress,
) -> Decided:
    """Decide `records` (ascending ids) given their pairs with earlier records (ascending ids
    of the later record, then of the earlier). Candidates that score alike stay in id order,
    the order in which the online linker fetches them."""
    progress.begin(Step.DECIDED, len(records))
    mpi_ids: list[str] = []
    golden_of: dict[int, int] = {}
    members: dict[int, list[StoredRecord]] = defaultdict(list)
    outcomes: list[Outcome] = []
    waiting = next(pairs, None)
    for record in records:
        earlier: list[tuple[int, dict[str, Any]]] = []
        if waiting is not None and waiting[0] == record.id:
            earlier = waiting[1]
            waiting = next(pairs, None)
        candidates = sorted(
            (
                _candidate(scorer, artifact, first, pair, golden_of, mpi_ids)
                for first, pair in earlier
            ),
            key=lambda c: c.match_probability,
            reverse=True,
        )
        scored = ScoreResponse(
            model_version=artifact.version,
            prior_probability=scorer.prior_probability,
            prior_match_weight=scorer.prior_match_weight,
            auto_threshold=artifact.thresholds.auto,
            reject_threshold=artifact.thresholds.reject,
            accept_alone_threshold=artifact.thresholds.accept_alone,
            candidates_found=len(candidates),
            capped=False,
            generic_key_kinds=None,
            candidates=candidates,
        )
        decision = decide(record, scored, members)
        if decision.golden_record_id is None:
            mpi_ids.append(new_mpi_id())
            position = len(mpi_ids) - 1
        else:
            position = decision.golden_record_id
        golden_of[record.id] = position
        members[position].append(record)
        outcomes.append(
            Outcome(
                position=position,
                match_result=decision.match_result,
                link_source=decision.link_source,
                link_state=decision.link_state,
                probability=decision.probability,
                match_weight=decision.match_weight,
                reason=json.dumps(decision.reason),
                gray_pairs=tuple(
                    GrayPair(
                        candidate_record_id=pair.candidate_record_id,
                        candidate_position=pair.candidate_golden_record_id,
                        probability=pair.probability,
                        match_weight=pair.match_weight,
                        comparison_weights=json.dumps(pair.comparison_weights),
                    )
                    for pair in decision.gray_pairs
                ),
            )
        )
        if len(outcomes) % PROGRESS_EVERY == 0:
            progress.advance(Step.DECIDED, PROGRESS_EVERY)
    progress.advance(Step.DECIDED, len(outcomes) % PROGRESS_EVERY)
    return Decided(outcomes, mpi_ids, members, artifact.version, artifact.thresholds.accept_alone)


def _candidate(
    scorer: Scorer,
    artifact: ModelArtifact,
    candidate_id: int,
    pair: Mapping[str, Any],
    golden_of: Mapping[int, int],
    mpi_ids: Sequence[str],
) -> CandidateScore:
    """The earlier record `candidate_id` of a predicted pair (either side), as the linker
    would have answered it."""
    score = scorer.explain(pair)
    position = golden_of[candidate_id]
    return CandidateScore(
        record_id=candidate_id,
        golden_record_id=position,
        mpi_id=mpi_ids[position],
        match_probability=score.match_probability,
        match_weight=score.match_weight,
        tier=artifact.thresholds.tier(score.match_probability),
        comparisons={
            name: ComparisonRead(level=c.level, label=c.label, match_weight=c.match_weight)
            for name, c in score.comparisons.items()
        },
        # Batch blocking explodes the key array: a pair does not say which key found it.
        blocking_key_kinds=None,
    )
