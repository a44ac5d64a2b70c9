"""Decisions out: golden records, links, link history, events, adjudications and their outbox
rows, each table in one COPY, as the online path would have written them record by record."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.orm import Session

from mpi_api.bulk.decide import Decided
from mpi_api.bulk.ingest import StoredRecord
from mpi_api.records import service
from mpi_store.bulk_writes import copy_rows, reserve_ids
from mpi_store.domain.enums import AdjudicationState, EventType, GoldenStatus
from mpi_store.domain.survivorship import survive
from mpi_store.models import Adjudication, Event, GoldenRecord, Link, LinkHistory, Outbox

_DECISION_COLUMNS = (
    "record_id",
    "golden_record_id",
    "match_result",
    "link_source",
    "link_state",
    "probability",
    "match_weight",
    "model_version",
    "decision_id",
)


def write_links(session: Session, records: Sequence[StoredRecord], decided: Decided) -> None:
    """Each golden record written once, whole (its survivorship over all its records)."""
    golden_ids = reserve_ids(session, GoldenRecord, len(decided.mpi_ids))
    copy_rows(
        session,
        GoldenRecord,
        ("id", "mpi_id", "status", "attributes", "version"),
        (
            (golden_id, mpi_id, GoldenStatus.ACTIVE, json.dumps(survive(decided.members[p])), 1)
            for p, (golden_id, mpi_id) in enumerate(zip(golden_ids, decided.mpi_ids, strict=True))
        ),
    )
    decision_ids = [uuid.uuid4() for _ in records]
    links = _decision_columns(records, decided, golden_ids, decision_ids)
    copy_rows(session, Link, (*_DECISION_COLUMNS, "version"), ((*d, 1) for d in links))
    history = _decision_columns(records, decided, golden_ids, decision_ids)
    copy_rows(
        session,
        LinkHistory,
        (*_DECISION_COLUMNS, "record_version", "reason"),
        (
            (*d, record.version, outcome.reason)
            for d, record, outcome in zip(history, records, decided.outcomes, strict=True)
        ),
    )
    _write_events(session, records, decided, decision_ids)
    _write_adjudications(session, records, decided, golden_ids)


def _decision_columns(
    records: Sequence[StoredRecord],
    decided: Decided,
    golden_ids: Sequence[int],
    decision_ids: Sequence[uuid.UUID],
) -> Iterator[tuple[Any, ...]]:
    """The columns a link and its history row share (`_DECISION_COLUMNS`), record by record."""
    for record, outcome, decision_id in zip(records, decided.outcomes, decision_ids, strict=True):
        yield (
            record.id,
            golden_ids[outcome.position],
            outcome.match_result,
            outcome.link_source,
            outcome.link_state,
            outcome.probability,
            outcome.match_weight,
            decided.model_version,
            decision_id,
        )


def _write_events(
    session: Session,
    records: Sequence[StoredRecord],
    decided: Decided,
    decision_ids: Sequence[uuid.UUID],
) -> None:
    """`patient.created` for every golden record, then the `link.created` that
    `LinkRepository.create` writes online, record by record."""
    created = ((EventType.PATIENT_CREATED, mpi_id, None, None, "{}") for mpi_id in decided.mpi_ids)
    linked = (
        (
            EventType.LINK_CREATED,
            decided.mpi_ids[outcome.position],
            record.source,
            record.source_record_id,
            json.dumps(
                {
                    "match_result": outcome.match_result,
                    "link_source": outcome.link_source,
                    "link_state": outcome.link_state,
                    "decision_id": str(decision_id),
                }
            ),
        )
        for record, outcome, decision_id in zip(
            records, decided.outcomes, decision_ids, strict=True
        )
    )
    copy_rows(
        session,
        Event,
        ("type", "mpi_id", "source", "source_record_id", "data"),
        itertools.chain(created, linked),
    )


def _write_adjudications(
    session: Session, records: Sequence[StoredRecord], decided: Decided, golden_ids: list[int]
) -> None:
    """One pending adjudication per gray pair, and per record with any, one outbox request."""
    gray = [
        (record.id, pair)
        for record, outcome in zip(records, decided.outcomes, strict=True)
        for pair in outcome.gray_pairs
    ]
    ids = reserve_ids(session, Adjudication, len(gray))
    copy_rows(
        session,
        Adjudication,
        (
            "id",
            "record_id",
            "candidate_record_id",
            "candidate_golden_record_id",
            "probability",
            "match_weight",
            "comparison_weights",
            "model_version",
            "accept_alone_threshold",
            "state",
        ),
        (
            (
                adjudication_id,
                record_id,
                pair.candidate_record_id,
                golden_ids[pair.candidate_position],
                pair.probability,
                pair.match_weight,
                pair.comparison_weights,
                decided.model_version,
                decided.accept_alone,
                AdjudicationState.PENDING,
            )
            for adjudication_id, (record_id, pair) in zip(ids, gray, strict=True)
        ),
    )
    requests = itertools.groupby(zip(ids, gray, strict=True), key=lambda row: row[1][0])
    copy_rows(
        session,
        Outbox,
        ("topic", "payload"),
        (
            (
                service.ADJUDICATION_TOPIC,
                json.dumps({"record_id": record_id, "adjudication_ids": [i for i, _ in rows]}),
            )
            for record_id, rows in requests
        ),
    )
