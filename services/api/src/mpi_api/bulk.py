"""Bulk load: many records at once, linked by Splink's batch predict on DuckDB.

The decisions are the online path's, record by record in input order: each record is decided
against the records before it (the ones a replay through `POST /records` would find), with the
same tiers, guards, adjudication rows and outbox. Scores use the term-frequency table in
Postgres as it stands when the load starts (neutral for unseen values), as the online linker
does, so a bulk load and a replay in the same order give the same clusters (up to the online
linker's candidate cap). Writes are batched; decisions are made in memory between the insert
of the records and the insert of their links. For tens of millions of records the same model
runs on Spark (README, "Scaling").
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa
from splink import DuckDBAPI, Linker
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from mpi_api.records import service
from mpi_api.records.matching import Decision, decide
from mpi_linker.features import TF_COLUMNS, blocking_keys, features
from mpi_linker.frames import SCHEMA
from mpi_linker.model.artifact import ModelArtifact
from mpi_linker.model.definition import BLOCKING_KEYS_COLUMN
from mpi_linker.scoring import Scorer, score_columns
from mpi_store.contracts import DEMOGRAPHIC_FIELDS, RecordCreate
from mpi_store.enums import EventType
from mpi_store.errors import Conflict
from mpi_store.models import (
    Adjudication,
    ClinicalEvent,
    Event,
    GoldenRecord,
    Link,
    LinkHistory,
    Outbox,
    SourceRecord,
)
from mpi_store.repositories import LinkerIndexRepository
from mpi_store.repositories.golden_records import new_mpi_id
from mpi_store.survivorship import survive

BATCH = 1000
TF_LOOKUP_BATCH = 1000
# Blocks larger than this are left out of the batch predict. A broad key (a common family
# name's phonetic code with a sex) is shared by hundreds of records per 100,000, and its pairs
# grow with the square of the load: at 1 M records they would be most of a billion pairs. The
# online linker ranks such candidates by the keys they share and keeps at most its cap (200 by
# default); true matches share specific keys too (SSN, phone, birth date with a name), so they
# are still compared here.
MAX_BLOCK_SIZE = 200
T = TypeVar("T")


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


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
    stored, rows = _insert_records(session, payloads)
    scorer = Scorer(artifact)
    pairs = _predict(rows, artifact, _tf_lookups(LinkerIndexRepository(session), scorer, rows))
    decisions, goldens = _decide_in_order(stored, pairs, scorer, artifact)
    _write_links(session, stored, decisions, goldens)
    results: dict[str, int] = defaultdict(int)
    for decision, _ in decisions:
        results[str(decision.match_result)] += 1
    return BulkReport(
        records=len(stored),
        golden_records=len(goldens),
        match_results=dict(results),
        candidate_pairs=len(pairs),
    )


def _insert_records(
    session: Session, payloads: Iterable[Mapping[str, Any]]
) -> tuple[list[SourceRecord], list[dict[str, Any]]]:
    """Validate and store the records, their events and linker index, a batch at a time."""
    index = LinkerIndexRepository(session)
    stored: list[SourceRecord] = []
    rows: list[dict[str, Any]] = []
    for chunk in _batches(payloads, BATCH):
        contracts = [RecordCreate.model_validate(payload) for payload in chunk]
        records = [service.record_row(contract) for contract in contracts]
        session.add_all(records)
        session.flush()
        events = [
            {"record_id": record.id, **event}
            for record, contract in zip(records, contracts, strict=True)
            for event in service.event_rows(contract)
        ]
        if events:
            session.execute(insert(ClinicalEvent), events)
        for record, contract in zip(records, contracts, strict=True):
            linker_features = features(contract.model_dump(include=set(DEMOGRAPHIC_FIELDS)))
            keys = blocking_keys(linker_features)
            rows.append({**linker_features, "unique_id": str(record.id), "blocking_keys": keys})
        index.put_many(
            [
                (int(row["unique_id"]), _features_only(row), row["blocking_keys"])
                for row in rows[-len(records) :]
            ]
        )
        stored.extend(records)
    return stored, rows


def _features_only(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("unique_id", "blocking_keys")}


def _decide_in_order(
    stored: list[SourceRecord],
    pairs: list[dict[str, Any]],
    scorer: Scorer,
    artifact: ModelArtifact,
) -> tuple[list[tuple[Decision, int]], list[GoldenRecord]]:
    """Each record's decision and the index of its golden record in the returned list.

    Golden records are identified by their position in the list until they are stored, so
    decisions refer to positions (`golden_record_id` and gray pairs' candidate golden).
    """
    earlier: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for pair in pairs:
        left, right = int(pair["unique_id_l"]), int(pair["unique_id_r"])
        later, first = (left, right) if left > right else (right, left)
        earlier[later].append((first, pair))
    goldens: list[GoldenRecord] = []
    golden_of: dict[int, int] = {}
    members: dict[int, list[SourceRecord]] = defaultdict(list)
    decisions: list[tuple[Decision, int]] = []
    for record in stored:
        candidates = sorted(
            (
                _candidate(scorer, artifact, first, pair, golden_of, goldens)
                for first, pair in earlier[record.id]
            ),
            key=lambda c: c["match_probability"],
            reverse=True,
        )
        scored = {
            "model_version": artifact.version,
            "candidates_found": len(candidates),
            "capped": False,
            "candidates": candidates,
        }
        decision = decide(record, scored, members)
        if decision.golden_record_id is None:
            goldens.append(GoldenRecord(mpi_id=new_mpi_id(), status="active", version=1))
            position = len(goldens) - 1
        else:
            position = decision.golden_record_id
        golden_of[record.id] = position
        members[position].append(record)
        decisions.append((decision, position))
    for position, golden in enumerate(goldens):
        golden.attributes = survive(members[position])
    return decisions, goldens


def _candidate(
    scorer: Scorer,
    artifact: ModelArtifact,
    candidate_id: int,
    pair: Mapping[str, Any],
    golden_of: Mapping[int, int],
    goldens: list[GoldenRecord],
) -> dict[str, Any]:
    """The earlier record `candidate_id` of a predicted pair (either side), as the linker
    would have answered it."""
    score = scorer.explain(pair)
    position = golden_of[candidate_id]
    return {
        "record_id": candidate_id,
        "golden_record_id": position,
        "mpi_id": goldens[position].mpi_id,
        "match_probability": score.match_probability,
        "match_weight": score.match_weight,
        "tier": artifact.thresholds.tier(score.match_probability),
        "comparisons": {
            name: {"label": c.label, "match_weight": c.match_weight}
            for name, c in score.comparisons.items()
        },
    }


def _write_links(
    session: Session,
    stored: list[SourceRecord],
    decisions: list[tuple[Decision, int]],
    goldens: list[GoldenRecord],
) -> None:
    session.add_all(goldens)
    session.flush()
    golden_id = [golden.id for golden in goldens]
    links: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = [
        {"type": EventType.PATIENT_CREATED, "mpi_id": golden.mpi_id, "data": {}}
        for golden in goldens
    ]
    adjudications: list[dict[str, Any]] = []
    for record, (decision, position) in zip(stored, decisions, strict=True):
        common = {
            "record_id": record.id,
            "golden_record_id": golden_id[position],
            "match_result": decision.match_result,
            "link_source": decision.link_source,
            "link_state": decision.link_state,
            "probability": decision.probability,
            "match_weight": decision.match_weight,
            "model_version": decision.model_version,
            "decision_id": uuid.uuid4(),
        }
        links.append({**common, "version": 1})
        history.append({**common, "record_version": record.version, "reason": decision.reason})
        events.append(_link_event(record, goldens[position], common))
        adjudications.extend(
            {
                "record_id": record.id,
                "candidate_record_id": pair.candidate_record_id,
                "candidate_golden_record_id": golden_id[pair.candidate_golden_record_id],
                "probability": pair.probability,
                "match_weight": pair.match_weight,
                "comparison_weights": pair.comparison_weights,
                "model_version": decision.model_version,
                "state": "pending",
            }
            for pair in decision.gray_pairs
        )
    for model, values in ((Link, links), (LinkHistory, history), (Event, events)):
        for chunk in _batches(values, BATCH):
            session.execute(insert(model), chunk)
    ids_by_record: dict[int, list[int]] = defaultdict(list)
    for chunk in _batches(adjudications, BATCH):
        created = session.execute(
            insert(Adjudication).returning(
                Adjudication.id, Adjudication.record_id, sort_by_parameter_order=True
            ),
            chunk,
        )
        for adjudication_id, record_id in created:
            ids_by_record[record_id].append(adjudication_id)
    if ids_by_record:
        session.execute(
            insert(Outbox),
            [
                {
                    "topic": service.ADJUDICATION_TOPIC,
                    "payload": {"record_id": record_id, "adjudication_ids": ids},
                }
                for record_id, ids in ids_by_record.items()
            ],
        )


def _link_event(
    record: SourceRecord, golden: GoldenRecord, link: Mapping[str, Any]
) -> dict[str, Any]:
    """The `link.created` event `LinkRepository.create` writes online."""
    return {
        "type": EventType.LINK_CREATED,
        "mpi_id": golden.mpi_id,
        "source": record.source,
        "source_record_id": record.source_record_id,
        "data": {
            "match_result": link["match_result"],
            "link_source": link["link_source"],
            "link_state": link["link_state"],
            "decision_id": str(link["decision_id"]),
        },
    }


def _tf_lookups(
    index: LinkerIndexRepository, scorer: Scorer, rows: list[dict[str, Any]]
) -> dict[str, dict[str, float]]:
    """Per TF column, every value in the load with its frequency from Postgres (or neutral)."""
    wanted = {column: sorted({r[column] for r in rows if r.get(column)}) for column in TF_COLUMNS}
    known: dict[str, dict[str, float]] = {column: {} for column in TF_COLUMNS}
    # In chunks: a load has hundreds of thousands of distinct names, more than one statement
    # can carry (Postgres fails with "stack depth limit exceeded" on about 10,000 values).
    for column, values in wanted.items():
        for chunk in _batches(values, TF_LOOKUP_BATCH):
            known[column].update(index.term_frequencies({column: chunk})[column])
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
    keys = table.schema.get_field_index(BLOCKING_KEYS_COLUMN)
    table = table.set_column(keys, SCHEMA.field(keys), _without_large_blocks(rows))
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
    # Only what a score is made of: the compared values would double the memory of the pairs.
    columns = score_columns(c.unquote().name for c in predictions.columns)
    scores = linker.misc.query_sql(  # type: ignore[no-untyped-call]
        f"SELECT {', '.join(columns)} FROM {predictions.physical_name}"
    )
    rows_out: list[dict[str, Any]] = scores.as_record_list()
    return rows_out


def _without_large_blocks(rows: list[dict[str, Any]]) -> pa.Array:
    """Each record's blocking keys less those shared by more than MAX_BLOCK_SIZE records."""
    sizes = Counter(key for row in rows for key in row[BLOCKING_KEYS_COLUMN])
    return pa.array(
        [[k for k in row[BLOCKING_KEYS_COLUMN] if sizes[k] <= MAX_BLOCK_SIZE] for row in rows],
        type=SCHEMA.field(BLOCKING_KEYS_COLUMN).type,
    )
