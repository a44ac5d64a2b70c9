"""Every MANUAL decision in link history as labelled record pairs: the input of refits.

One row per (decided record, other record): for a MATCH, each record that was on the patient
the record was put on just before the decision (label 1); for a NO_MATCH, each record that was
on a patient the decision keeps it apart from (`kept_apart_from`, else the patient it left;
label 0). Any MANUAL row of link history counts (a steward's decision, merge, unmerge or
split), so every tool a steward uses feeds the labels. Scores are the pair's adjudication
(Splink and classifier) or, failing one, the linker's score of that candidate when the record
was scored; null when the pair was never scored. Record keys and scores only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from mpi_store.domain.enums import MatchResult
from mpi_store.models import Adjudication, LinkHistory
from mpi_store.repositories import (
    AdjudicationRepository,
    GoldenRecordRepository,
    LinkRepository,
    SourceRecordRepository,
)

LABELS = {MatchResult.MATCH: 1, MatchResult.NO_MATCH: 0}


@dataclass(frozen=True)
class DecisionPair:
    decision_id: str
    record_source: str
    record_source_record_id: str
    other_source: str
    other_source_record_id: str
    label: int
    rule: str | None
    actor: str | None
    decided_at: dt.datetime
    splink_probability: float | None
    match_weight: float | None
    classifier_probability: float | None
    fused_probability: float | None
    model_version: str | None
    classifier_model: str | None


def decision_pairs(session: Session) -> Iterator[DecisionPair]:
    links = LinkRepository(session)
    records = SourceRecordRepository(session)
    for revision in links.manual_revisions():
        label = LABELS.get(MatchResult(revision.match_result))
        if label is None:
            continue
        others = [
            r
            for r in links.records_on_before(
                _other_patients(session, revision), before_id=revision.id
            )
            if r != revision.record_id
        ]
        if not others:
            continue
        keys = records.keys([revision.record_id, *others])
        adjudications = {
            frozenset((a.record_id, a.candidate_record_id)): a
            for a in AdjudicationRepository(session).between([revision.record_id, *others])
        }
        scored = _linker_scores(links.history(revision.record_id), before_id=revision.id)
        mine = keys[revision.record_id]
        for other in others:
            scores = _scores(
                adjudications.get(frozenset((revision.record_id, other))), scored, other
            )
            yield DecisionPair(
                decision_id=str(revision.decision_id),
                record_source=mine.source,
                record_source_record_id=mine.source_record_id,
                other_source=keys[other].source,
                other_source_record_id=keys[other].source_record_id,
                label=label,
                rule=revision.reason.get("rule"),
                actor=revision.actor,
                decided_at=revision.created_at,
                **scores,
            )


def _other_patients(session: Session, revision: LinkHistory) -> set[int]:
    if revision.match_result == MatchResult.MATCH:
        return {revision.golden_record_id}
    apart = revision.reason.get("kept_apart_from")
    if apart:
        return {g.id for g in GoldenRecordRepository(session).by_mpi_ids(list(apart))}
    previous = revision.previous_golden_record_id
    return {previous} if previous is not None else set()


def _linker_scores(revisions: list[LinkHistory], *, before_id: int) -> dict[str, Any] | None:
    """The best candidate of the record's last linker scoring before the decision."""
    scoring = [r for r in revisions if r.id < before_id and "candidates_found" in r.reason]
    if not scoring or not scoring[-1].reason.get("best"):
        return None
    return {**scoring[-1].reason["best"], "model_version": scoring[-1].model_version}


def _scores(
    adjudication: Adjudication | None, scored: dict[str, Any] | None, other: int
) -> dict[str, Any]:
    if adjudication is not None:
        return {
            "splink_probability": adjudication.probability,
            "match_weight": adjudication.match_weight,
            "classifier_probability": adjudication.classifier_probability,
            "fused_probability": adjudication.fused_probability,
            "model_version": adjudication.model_version,
            "classifier_model": adjudication.classifier_model,
        }
    linker = scored if scored is not None and scored.get("record_id") == other else None
    return {
        "splink_probability": linker["probability"] if linker else None,
        "match_weight": linker["match_weight"] if linker else None,
        "classifier_probability": None,
        "fused_probability": None,
        "model_version": linker["model_version"] if linker else None,
        "classifier_model": None,
    }


def write_parquet(pairs: Iterator[DecisionPair], out: Any) -> int:
    """Write the pairs (an empty file keeps the schema); the number written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("decision_id", pa.string()),
            ("record_source", pa.string()),
            ("record_source_record_id", pa.string()),
            ("other_source", pa.string()),
            ("other_source_record_id", pa.string()),
            ("label", pa.int8()),
            ("rule", pa.string()),
            ("actor", pa.string()),
            ("decided_at", pa.timestamp("us", tz="UTC")),
            ("splink_probability", pa.float64()),
            ("match_weight", pa.float64()),
            ("classifier_probability", pa.float64()),
            ("fused_probability", pa.float64()),
            ("model_version", pa.string()),
            ("classifier_model", pa.string()),
        ]
    )
    rows = [vars(p) for p in pairs]
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), out)
    return len(rows)
