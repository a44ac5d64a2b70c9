"""Bulk load: many records at once, linked by Splink's batch predict on DuckDB.

The decisions are the online path's, record by record in input order: each record is decided
against the records before it (the ones a replay through `POST /records` would find), with the
same tiers, guards, adjudication rows and outbox. Scores use the term-frequency table in
Postgres as it stands when the load starts (neutral for unseen values), as the online linker
does, so a bulk load and a replay in the same order give the same clusters (up to the online
linker's candidate cap). For tens of millions of records the same model runs on Spark
(README, "Scaling").
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from splink import DuckDBAPI, Linker
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mpi_api.records import service
from mpi_api.records.matching import decide
from mpi_linker.features import TF_COLUMNS, blocking_keys, features
from mpi_linker.frames import SCHEMA
from mpi_linker.model.artifact import ModelArtifact
from mpi_linker.scoring import Scorer
from mpi_store.contracts import RecordCreate
from mpi_store.errors import Conflict
from mpi_store.models import SourceRecord
from mpi_store.repositories import LinkerIndexRepository, SourceRecordRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BulkReport:
    records: int
    golden_records: int
    match_results: dict[str, int]
    candidate_pairs: int


def bulk_load(
    session: Session, *, payloads: Iterable[Mapping[str, Any]], artifact: ModelArtifact
) -> BulkReport:
    """Load into an empty MPI (a first load or a migration); refuses a populated one."""
    if session.scalar(select(func.count()).select_from(SourceRecord)):
        raise Conflict("bulk load needs an empty MPI; send further records to POST /records")
    records = SourceRecordRepository(session)
    index = LinkerIndexRepository(session)
    stored: list[SourceRecord] = []
    rows: list[dict[str, Any]] = []
    for payload in payloads:
        contract = RecordCreate.model_validate(payload)
        row = service.record_row(contract)
        records.add(row)
        records.replace_events(row.id, service.event_rows(contract))
        linker_features = features(contract.model_dump())
        keys = blocking_keys(linker_features)
        index.put(row.id, features=linker_features, keys=keys)
        stored.append(row)
        rows.append({**linker_features, "unique_id": str(row.id), "blocking_keys": keys})
    scorer = Scorer(artifact)
    pairs = _predict(rows, artifact, _tf_lookups(index, scorer, rows))
    earlier: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for pair in pairs:
        left, right = int(pair["unique_id_l"]), int(pair["unique_id_r"])
        later, first = (left, right) if left > right else (right, left)
        earlier[later].append({**pair, "unique_id_r": str(first)})
    golden_of: dict[int, int] = {}
    mpi_id_of: dict[int, str] = {}
    members: dict[int, list[SourceRecord]] = defaultdict(list)
    results: dict[str, int] = defaultdict(int)
    thresholds = artifact.thresholds
    for record in stored:
        candidates: list[dict[str, Any]] = []
        for pair in earlier[record.id]:
            score = scorer.explain(pair)
            candidate_id = int(score.candidate_id)
            candidates.append(
                {
                    "record_id": candidate_id,
                    "golden_record_id": golden_of[candidate_id],
                    "mpi_id": mpi_id_of[golden_of[candidate_id]],
                    "match_probability": score.match_probability,
                    "match_weight": score.match_weight,
                    "tier": thresholds.tier(score.match_probability),
                    "comparisons": {
                        name: {"label": c.label, "match_weight": c.match_weight}
                        for name, c in score.comparisons.items()
                    },
                }
            )
        candidates.sort(key=lambda c: c["match_probability"], reverse=True)
        scored = {
            "model_version": artifact.version,
            "candidates_found": len(candidates),
            "capped": False,
            "candidates": candidates,
        }
        decision = decide(record, scored, members)
        golden = service.link_new_record(session, record=record, decision=decision)
        golden_of[record.id] = golden.id
        mpi_id_of[golden.id] = golden.mpi_id
        members[golden.id].append(record)
        results[str(decision.match_result)] += 1
    for golden_id in members:
        service.refresh_golden_by_id(session, golden_id=golden_id)
    return BulkReport(
        records=len(stored),
        golden_records=len(members),
        match_results=dict(results),
        candidate_pairs=len(pairs),
    )


def _tf_lookups(
    index: LinkerIndexRepository, scorer: Scorer, rows: list[dict[str, Any]]
) -> dict[str, dict[str, float]]:
    """Per TF column, every value in the load with its frequency from Postgres (or neutral)."""
    wanted = {column: sorted({r[column] for r in rows if r.get(column)}) for column in TF_COLUMNS}
    known = index.term_frequencies(wanted)
    return {
        column: {
            value: known[column].get(value, scorer.neutral_term_frequency(column))
            for value in values
        }
        for column, values in wanted.items()
    }


def _predict(
    rows: list[dict[str, Any]], artifact: ModelArtifact, tfs: dict[str, dict[str, float]]
) -> list[dict[str, Any]]:
    if len(rows) < 2:
        return []
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(table), dict(artifact.splink))
    for column in TF_COLUMNS:
        lookup = pa.table(
            {column: list(tfs[column]), f"tf_{column}": list(tfs[column].values())},
            schema=pa.schema([(column, pa.string()), (f"tf_{column}", pa.float64())]),
        )
        linker.table_management.register_term_frequency_lookup(db_api.register(lookup), column)
    predictions = linker.inference.predict(
        threshold_match_probability=artifact.thresholds.reject or None, warning_mode="never"
    )
    rows_out: list[dict[str, Any]] = predictions.as_record_list()
    return rows_out
