"""List adjudications and requeue failed ones (the worker gave up after its retries)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mpi_store.enums import AdjudicationState, OutboxTopic
from mpi_store.errors import AdjudicationNotFound, Conflict
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


def requeue(session: Session, *, adjudication_id: int) -> Adjudication:
    """failed → pending, and a new outbox row so the relay publishes it again."""
    adjudications = AdjudicationRepository(session)
    if adjudications.get(adjudication_id) is None:
        raise AdjudicationNotFound("no adjudication with that id")
    requeued = adjudications.transition(
        adjudication_id, from_state=AdjudicationState.FAILED, to_state=AdjudicationState.PENDING
    )
    if requeued is None:
        raise Conflict("only a failed adjudication can be requeued")
    OutboxRepository(session).add(
        OutboxTopic.ADJUDICATION_REQUESTED,
        {"record_id": requeued.record_id, "adjudication_ids": [requeued.id]},
    )
    return requeued
