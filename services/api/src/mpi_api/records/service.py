"""Ingest a facility record: store it idempotently, decide its golden record, keep survivorship."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from mpi_api.records import events
from mpi_api.records.matching import LinkerMatcher
from mpi_api.records.redecide import redecide
from mpi_linker.decision import Decision
from mpi_store.db import advisory_lock_keys
from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS, RecordCreate
from mpi_store.domain.enums import LinkSource, OutboxTopic
from mpi_store.domain.errors import RecordNotFound
from mpi_store.domain.survivorship import survive
from mpi_store.models import GoldenRecord, Link, SourceRecord
from mpi_store.repositories import (
    AdjudicationRepository,
    GoldenRecordRepository,
    LinkerIndexRepository,
    LinkRepository,
    NewAdjudication,
    OutboxRepository,
    SourceRecordRepository,
)


@dataclass(frozen=True)
class IngestResult:
    record: SourceRecord
    link: Link
    golden: GoldenRecord
    created: bool


def content_hash(record: RecordCreate, dropped_values: dict[str, Any] | None = None) -> str:
    content = record.model_dump_json()
    if dropped_values:
        content += json.dumps(dropped_values, sort_keys=True)
    return hashlib.sha256(content.encode()).hexdigest()


ADJUDICATION_TOPIC = OutboxTopic.ADJUDICATION_REQUESTED


def ingest_record(
    session: Session,
    *,
    record: RecordCreate,
    matcher: LinkerMatcher,
    dropped_values: dict[str, Any] | None = None,
) -> IngestResult:
    """Upsert on `(source, source_record_id)`; a new record is linked in the same transaction,
    a changed one decided again (`redecide`). `dropped_values`: the fields lenient intake
    dropped, as received.

    The linker answers the record's features, keys and scored candidates in one call before
    the transaction locks anything; transactions for records sharing a specific blocking key
    are then serialised (advisory locks), and a record that arrived under one of those keys
    since the linker answered, or a record stored meanwhile under this key, has the record
    scored again under the locks: two copies of one new patient arriving together cannot found
    two golden records. A replay of the stored content (same hash) answers the record's
    current link and patient without asking the linker, locking or writing anything.
    """
    records = SourceRecordRepository(session)
    seen = records.get_by_key(record.source, record.source_record_id)
    seen_id = None if seen is None else seen.id
    if seen is not None:
        if seen.content_hash == content_hash(record, dropped_values):
            return _as_stored(session, seen)
        # Read again under the lock (touching it before would read it now): a change
        # committed meanwhile is what this one updates.
        session.expire(seen)
    clinical_events = event_rows(record)
    first = matcher.first_look(record, clinical_events, stored_as=seen_id)
    made = first.answer
    draft = record_row(record, made.features, dropped_values=dropped_values)
    advisory_lock_keys(session, [f"rec:{record.source}:{record.source_record_id}", *made.lock_keys])
    existing = records.get_by_key(record.source, record.source_record_id)
    first = first.under_locks(None if existing is None else existing.id)
    index = LinkerIndexRepository(session)
    if existing is None:
        stored = records.add(draft)
        records.add_events(stored.id, clinical_events)
        index.add(stored.id, features=made.features, keys=made.blocking_keys)
        decision = matcher.decide(session, record=stored, first=first)
        golden, link = link_new_record(session, record=stored, decision=decision)
        refresh_golden(session, golden=golden)
        return IngestResult(stored, link, golden, created=True)

    current = LinkRepository(session).get_for_record(existing.id)
    if current is None:
        raise RuntimeError(f"source record {existing.id} has no link")
    golden = GoldenRecordRepository(session).get(current.golden_record_id)
    if existing.content_hash != draft.content_hash:
        for field in (*DEMOGRAPHIC_FIELDS, "identifiers", "dropped_values", "content_hash"):
            setattr(existing, field, getattr(draft, field))
        for field in ("norm_given_name", "norm_family_name", "norm_ssn"):
            setattr(existing, field, getattr(draft, field))
        existing.version += 1
        records.replace_events(existing.id, clinical_events)
        index.put(existing.id, features=made.features, keys=made.blocking_keys)
        session.flush()
        decision = matcher.decide(session, record=existing, first=first)
        golden, current = redecide(session, record=existing, decision=decision)
        if current.link_source != LinkSource.MANUAL:
            _request_adjudication(session, record=existing, decision=decision)
        refresh_golden(session, golden=golden)
    return IngestResult(existing, current, golden, created=False)


def link_new_record(
    session: Session, *, record: SourceRecord, decision: Decision
) -> tuple[GoldenRecord, Link]:
    """Apply a decision to a record that has no link yet; returns its golden record and link."""
    goldens = GoldenRecordRepository(session)
    # Locking the patient waits for a merge in flight, whose redirect we then follow.
    golden = (
        goldens.create()
        if decision.golden_record_id is None
        else goldens.lock_active(decision.golden_record_id)
    )
    link = LinkRepository(session).create(
        record=record,
        golden_record_id=golden.id,
        match_result=decision.match_result,
        link_source=decision.link_source,
        link_state=decision.link_state,
        probability=decision.probability,
        match_weight=decision.match_weight,
        model_version=decision.model_version,
        reason=decision.reason,
    )
    _request_adjudication(session, record=record, decision=decision)
    return golden, link


def _request_adjudication(session: Session, *, record: SourceRecord, decision: Decision) -> None:
    if not decision.gray_pairs:
        return
    ids = AdjudicationRepository(session).add_many(
        [
            NewAdjudication(
                record_id=record.id,
                candidate_record_id=pair.candidate_record_id,
                candidate_golden_record_id=pair.candidate_golden_record_id,
                probability=pair.probability,
                match_weight=pair.match_weight,
                comparison_weights=json.dumps(pair.comparison_weights),
                model_version=decision.model_version,
                accept_alone_threshold=decision.accept_alone,
            )
            for pair in decision.gray_pairs
        ]
    )
    OutboxRepository(session).add(
        ADJUDICATION_TOPIC, {"record_id": record.id, "adjudication_ids": ids}
    )


def refresh_golden_by_id(session: Session, *, golden_id: int) -> None:
    refresh_golden(session, golden=GoldenRecordRepository(session).get(golden_id))


def refresh_golden(session: Session, *, golden: GoldenRecord) -> None:
    members = [record for record, _ in LinkRepository(session).records_of_golden(golden.id)]
    GoldenRecordRepository(session).set_attributes(golden, survive(members))


def get_record(session: Session, *, source: str, source_record_id: str) -> IngestResult:
    record = SourceRecordRepository(session).get_by_key(source, source_record_id)
    if record is None:
        raise RecordNotFound("no record with that source and source_record_id")
    return _as_stored(session, record)


def _as_stored(session: Session, record: SourceRecord) -> IngestResult:
    link = LinkRepository(session).get_for_record(record.id)
    if link is None:
        raise RuntimeError(f"source record {record.id} has no link")
    golden = GoldenRecordRepository(session).get(link.golden_record_id)
    return IngestResult(record, link, golden, created=False)


def event_rows(record: RecordCreate) -> list[dict[str, Any]]:
    return events.to_rows(record.clinical)


def record_row(
    record: RecordCreate,
    features: Mapping[str, Any],
    *,
    dropped_values: dict[str, Any] | None = None,
) -> SourceRecord:
    """A new, unsaved source record with its normalised matching keys."""
    return SourceRecord(**record_columns(record, features, dropped_values=dropped_values))


def record_columns(
    record: RecordCreate,
    features: Mapping[str, Any],
    *,
    dropped_values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A new source record's columns but its id: as received, plus its matching keys
    normalised as the linker's `features` of it are."""
    demographics = {field: getattr(record, field) for field in DEMOGRAPHIC_FIELDS}
    return {
        "source": record.source,
        "source_record_id": record.source_record_id,
        **demographics,
        "identifiers": [i.model_dump() for i in record.identifiers],
        "dropped_values": dropped_values or None,
        "norm_given_name": features["given_name"],
        "norm_family_name": features["family_name"],
        "norm_ssn": features["ssn"],
        "content_hash": content_hash(record, dropped_values),
        "version": 1,
    }
