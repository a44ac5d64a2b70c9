"""Appending to the event stream, and reading it in commit-safe order."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

from mpi_store.bulk_writes import copy_rows
from mpi_store.domain.enums import EventType
from mpi_store.domain.errors import EventNotFound
from mpi_store.models import Event, GoldenRecord, SourceRecord

# The oldest transaction still running: events at or above it may yet be joined by others
# that commit later with smaller ids, so readers stop below it.
_OLDEST_RUNNING_TX = text("(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event `EventRepository.append_many` writes (its data's None values left out)."""

    type: EventType
    mpi_id: str
    data: Mapping[str, Any]
    source: str | None = None
    source_record_id: str | None = None


class EventRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def append(
        self,
        event_type: EventType,
        golden: GoldenRecord,
        *,
        record: SourceRecord | None = None,
        **data: Any,
    ) -> Event:
        event = Event(
            type=event_type,
            mpi_id=golden.mpi_id,
            source=record.source if record else None,
            source_record_id=record.source_record_id if record else None,
            data={k: v for k, v in data.items() if v is not None},
        )
        self.session.add(event)
        return event

    def append_many(self, events: Iterable[NewEvent]) -> None:
        """Append `events` by COPY, after what the session holds unwritten: ids keep the order
        in which events were appended."""
        self.session.flush()
        copy_rows(
            self.session,
            Event,
            ("type", "mpi_id", "source", "source_record_id", "data"),
            (
                (
                    e.type,
                    e.mpi_id,
                    e.source,
                    e.source_record_id,
                    json.dumps({k: v for k, v in e.data.items() if v is not None}),
                )
                for e in events
            ),
        )

    def latest(self, event_type: EventType, mpi_id: str) -> Event | None:
        """The newest event of this type about this patient, committed or in this transaction."""
        return self.session.scalar(
            select(Event)
            .where(Event.type == event_type, Event.mpi_id == mpi_id)
            .order_by(Event.id.desc())
            .limit(1)
        )

    def page(self, *, after: int | None, limit: int) -> list[Event]:
        """Committed events after the event `after` (from the start when None), oldest first."""
        query = select(Event).where(Event.tx_id < _OLDEST_RUNNING_TX)
        if after is not None:
            cursor = self.session.execute(
                select(Event.tx_id, Event.id).where(Event.id == after)
            ).one_or_none()
            if cursor is None:
                raise EventNotFound(
                    f"no event has id {after}: pass an id this stream returned, or no `after`"
                )
            query = query.where(tuple_(Event.tx_id, Event.id) > tuple_(*cursor))
        return list(self.session.scalars(query.order_by(Event.tx_id, Event.id).limit(limit)))
