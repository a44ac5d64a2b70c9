"""List adjudications and requeue failed ones (the worker gave up after its retries) or stale
pending ones (the worker died holding them)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from mpi_store.domain.enums import AdjudicationState, OutboxTopic
from mpi_store.domain.errors import AdjudicationNotFound, Conflict
from mpi_store.models import Adjudication, SourceRecord
from mpi_store.repositories import AdjudicationRepository, OutboxRepository


def list_adjudications(
    session: Session, *, state: AdjudicationState | None, after: int, limit: int
) -> list[tuple[Adjudication, SourceRecord, SourceRecord]]:
    adjudications = AdjudicationRepository(session).by_state(
        state=state, after_id=after, limit=limit
    )
    return [(a, *records_of(session, a)) for a in adjudications]


def records_of(session: Session, adjudication: Adjudication) -> tuple[SourceRecord, SourceRecord]:
    return (
        session.get_one(SourceRecord, adjudication.record_id),
        session.get_one(SourceRecord, adjudication.candidate_record_id),
    )


def requeue(session: Session, *, adjudication_id: int, stale_after: dt.timedelta) -> Adjudication:
    """failed → pending, or a pending one untouched for `stale_after` again, with a new outbox
    row so the relay publishes it. A pending one may still sit in the broker: publishing it
    twice is harmless, since its verdict is a conditional `pending → done` update."""
    adjudications = AdjudicationRepository(session)
    if adjudications.get(adjudication_id) is None:
        raise AdjudicationNotFound("no adjudication with that id")
    stale_before = dt.datetime.now(dt.UTC) - stale_after
    requeued = adjudications.requeue(adjudication_id, stale_before=stale_before)
    if requeued is None:
        raise Conflict(
            "only a failed adjudication, or a pending one untouched for "
            f"{stale_after.total_seconds():.0f} s, can be requeued"
        )
    OutboxRepository(session).add(
        OutboxTopic.ADJUDICATION_REQUESTED,
        {"record_id": requeued.record_id, "adjudication_ids": [requeued.id]},
    )
    return requeued
