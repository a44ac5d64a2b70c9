"""Decisions out: golden records, links, link history, events, adjudications and their outbox
rows through the repositories' batch methods, the ones the online path writes through."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from sqlalchemy.orm import Session

from mpi_api.bulk.decide import Decided
from mpi_api.bulk.ingest import StoredRecord
from mpi_api.records import service
from mpi_store.domain.survivorship import survive
from mpi_store.repositories import (
    AdjudicationRepository,
    GoldenRecordRepository,
    LinkRepository,
    NewAdjudication,
    NewLink,
    OutboxRepository,
)


def write_links(session: Session, records: Sequence[StoredRecord], decided: Decided) -> None:
    """Each golden record written once, whole (its survivorship over all its records)."""
    golden_ids = GoldenRecordRepository(session).create_many(
        decided.mpi_ids, (survive(decided.members[p]) for p in range(len(decided.mpi_ids)))
    )
    LinkRepository(session).create_many(_links(records, decided, golden_ids))
    _write_adjudications(session, records, decided, golden_ids)


def _links(
    records: Sequence[StoredRecord], decided: Decided, golden_ids: Sequence[int]
) -> Iterator[NewLink]:
    for record, outcome in zip(records, decided.outcomes, strict=True):
        yield NewLink(
            record_id=record.id,
            record_version=record.version,
            source=record.source,
            source_record_id=record.source_record_id,
            golden_record_id=golden_ids[outcome.position],
            mpi_id=decided.mpi_ids[outcome.position],
            match_result=outcome.match_result,
            link_source=outcome.link_source,
            link_state=outcome.link_state,
            probability=outcome.probability,
            match_weight=outcome.match_weight,
            model_version=decided.model_version,
            reason=outcome.reason,
        )


def _write_adjudications(
    session: Session, records: Sequence[StoredRecord], decided: Decided, golden_ids: list[int]
) -> None:
    """One pending adjudication per gray pair, and per record with any, one outbox request."""
    gray = [
        NewAdjudication(
            record_id=record.id,
            candidate_record_id=pair.candidate_record_id,
            candidate_golden_record_id=golden_ids[pair.candidate_position],
            probability=pair.probability,
            match_weight=pair.match_weight,
            comparison_weights=pair.comparison_weights,
            model_version=decided.model_version,
            accept_alone_threshold=decided.accept_alone,
        )
        for record, outcome in zip(records, decided.outcomes, strict=True)
        for pair in outcome.gray_pairs
    ]
    ids = AdjudicationRepository(session).add_many(gray)
    requests = itertools.groupby(zip(ids, gray, strict=True), key=lambda row: row[1].record_id)
    OutboxRepository(session).add_many(
        service.ADJUDICATION_TOPIC,
        (
            {"record_id": record_id, "adjudication_ids": [i for i, _ in rows]}
            for record_id, rows in requests
        ),
    )
