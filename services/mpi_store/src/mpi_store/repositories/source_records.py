"""Source records and their clinical events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from mpi_store.models import ClinicalEvent, Link, SourceRecord


class RecordKey(NamedTuple):
    source: str
    source_record_id: str


class SourceRecordRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get_by_key(self, source: str, source_record_id: str) -> SourceRecord | None:
        return self.session.scalar(
            select(SourceRecord).where(
                SourceRecord.source == source, SourceRecord.source_record_id == source_record_id
            )
        )

    def keys(self, record_ids: Iterable[int]) -> dict[int, RecordKey]:
        """(source, source_record_id) by record id: what names a record without its data."""
        rows = self.session.execute(
            select(SourceRecord.id, SourceRecord.source, SourceRecord.source_record_id).where(
                SourceRecord.id.in_(list(record_ids))
            )
        )
        return {row.id: RecordKey(row.source, row.source_record_id) for row in rows}

    def add(self, record: SourceRecord) -> SourceRecord:
        self.session.add(record)
        self.session.flush()
        return record

    def add_events(self, record_id: int, events: Iterable[dict[str, Any]]) -> None:
        """A new record's clinical events, in one statement."""
        rows = [{"record_id": record_id, **event} for event in events]
        if rows:
            self.session.execute(insert(ClinicalEvent), rows)

    def replace_events(self, record_id: int, events: Iterable[dict[str, Any]]) -> None:
        self.session.execute(delete(ClinicalEvent).where(ClinicalEvent.record_id == record_id))
        self.add_events(record_id, events)

    def events(self, record_id: int) -> list[ClinicalEvent]:
        return list(
            self.session.scalars(
                select(ClinicalEvent)
                .where(ClinicalEvent.record_id == record_id)
                .order_by(ClinicalEvent.id)
            )
        )

    def exact_candidates(
        self,
        *,
        exclude_record_id: int,
        norm_ssn: str | None,
        norm_given_name: str | None,
        norm_family_name: str | None,
        birth_date: dt.date | None,
    ) -> list[tuple[SourceRecord, Link]]:
        """Linked records sharing the SSN, or the given + family name and birth date (indexed)."""
        conditions = []
        if norm_ssn is not None:
            conditions.append(SourceRecord.norm_ssn == norm_ssn)
        if norm_given_name and norm_family_name and birth_date:
            conditions.append(
                (SourceRecord.norm_family_name == norm_family_name)
                & (SourceRecord.norm_given_name == norm_given_name)
                & (SourceRecord.birth_date == birth_date)
            )
        if not conditions:
            return []
        rows = self.session.execute(
            select(SourceRecord, Link)
            .join(Link, Link.record_id == SourceRecord.id)
            .where(or_(*conditions), SourceRecord.id != exclude_record_id)
            .order_by(SourceRecord.id)
        )
        return [(record, link) for record, link in rows]

    def golden_ids_with_identifier(self, system: str, value: str) -> list[int]:
        """The patients (golden record ids, as linked now) of the records holding the
        identifier `{system, value}` (GIN-indexed containment)."""
        wanted = [{"system": system, "value": value}]
        return list(
            self.session.scalars(
                select(Link.golden_record_id)
                .join(SourceRecord, SourceRecord.id == Link.record_id)
                .where(SourceRecord.identifiers.contains(wanted))
                .distinct()
                .order_by(Link.golden_record_id)
            )
        )
