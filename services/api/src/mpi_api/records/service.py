"""Ingest a facility record: store it idempotently, decide its golden record, keep survivorship."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mpi_api.records import events
from mpi_api.records.matching import Matcher
from mpi_linker import normalise
from mpi_store.contracts import DEMOGRAPHIC_FIELDS, RecordCreate
from mpi_store.db import advisory_lock_keys
from mpi_store.errors import RecordNotFound
from mpi_store.models import GoldenRecord, Link, SourceRecord
from mpi_store.repositories import GoldenRecordRepository, LinkRepository, SourceRecordRepository
from mpi_store.survivorship import survive


@dataclass(frozen=True)
class IngestResult:
    record: SourceRecord
    link: Link
    golden: GoldenRecord
    created: bool


def content_hash(record: RecordCreate) -> str:
    return hashlib.sha256(record.model_dump_json().encode()).hexdigest()


def ingest_record(session: Session, *, record: RecordCreate, matcher: Matcher) -> IngestResult:
    """Upsert on `(source, source_record_id)`; a new record is linked in the same transaction."""
    records = SourceRecordRepository(session)
    draft = _to_row(record)
    advisory_lock_keys(
        session, [f"rec:{record.source}:{record.source_record_id}", *matcher.lock_keys(draft)]
    )
    existing = records.get_by_key(record.source, record.source_record_id)
    if existing is None:
        stored = records.add(draft)
        records.replace_events(stored.id, events.to_rows(record.clinical))
        decision = matcher.decide(session, stored)
        goldens = GoldenRecordRepository(session)
        golden = (
            goldens.create()
            if decision.golden_record_id is None
            else goldens.get(decision.golden_record_id)
        )
        link = LinkRepository(session).create(
            record=stored,
            golden_record_id=golden.id,
            match_result=decision.match_result,
            link_source=decision.link_source,
            link_state=decision.link_state,
            probability=decision.probability,
            match_weight=decision.match_weight,
            model_version=decision.model_version,
            reason=decision.reason,
        )
        refresh_golden(session, golden=golden)
        return IngestResult(stored, link, golden, created=True)

    current = LinkRepository(session).get_for_record(existing.id)
    if current is None:
        raise RuntimeError(f"source record {existing.id} has no link")
    golden = GoldenRecordRepository(session).get(current.golden_record_id)
    if existing.content_hash != draft.content_hash:
        for field in (*DEMOGRAPHIC_FIELDS, "identifiers", "content_hash"):
            setattr(existing, field, getattr(draft, field))
        for field in ("norm_given_name", "norm_family_name", "norm_ssn"):
            setattr(existing, field, getattr(draft, field))
        existing.version += 1
        records.replace_events(existing.id, events.to_rows(record.clinical))
        session.flush()
        refresh_golden(session, golden=golden)
    return IngestResult(existing, current, golden, created=False)


def refresh_golden(session: Session, *, golden: GoldenRecord) -> None:
    members = [record for record, _ in LinkRepository(session).records_of_golden(golden.id)]
    GoldenRecordRepository(session).set_attributes(golden, survive(members))


def get_record(session: Session, *, source: str, source_record_id: str) -> IngestResult:
    record = SourceRecordRepository(session).get_by_key(source, source_record_id)
    if record is None:
        raise RecordNotFound("no record with that source and source_record_id")
    link = LinkRepository(session).get_for_record(record.id)
    if link is None:
        raise RuntimeError(f"source record {record.id} has no link")
    golden = GoldenRecordRepository(session).get(link.golden_record_id)
    return IngestResult(record, link, golden, created=False)


def _to_row(record: RecordCreate) -> SourceRecord:
    demographics = {field: getattr(record, field) for field in DEMOGRAPHIC_FIELDS}
    return SourceRecord(
        source=record.source,
        source_record_id=record.source_record_id,
        **demographics,
        identifiers=[i.model_dump() for i in record.identifiers],
        norm_given_name=normalise.name(record.given_name),
        norm_family_name=normalise.name(record.family_name),
        norm_ssn=normalise.ssn(record.ssn),
        content_hash=content_hash(record),
        version=1,
    )
