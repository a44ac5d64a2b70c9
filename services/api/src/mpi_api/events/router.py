"""`GET /events`: every patient and link change, in commit order, for downstream systems."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mpi_api.deps import ReaderDep, SessionDep
from mpi_api.events.schemas import EventPage, EventRead
from mpi_api.responses import error_responses
from mpi_store.domain.contracts import MAX_ID
from mpi_store.repositories import EventRepository

router = APIRouter(prefix="/events", tags=["events"])


@router.get(
    "",
    operation_id="list_events",
    responses=error_responses({404: "`after` names no event"}),
)
def list_events(
    session: SessionDep,
    _: ReaderDep,
    after: Annotated[
        int | None,
        Query(
            ge=1, le=MAX_ID, description="The last event id you processed (none: from the start)"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPage:
    """Changes after `after`, oldest first: `patient.created`, `patient.updated`,
    `patient.merged` (the mpi_id now redirects to `data.redirect_to`), `patient.unmerged` (a
    steward undid merge `data.merge_id`: the mpi_id is active again, kept apart from
    `data.survivor`), `patient.split` (a steward moved records onto `data.to_mpi_id`, kept
    apart), `link.created` and `link.updated` (a record's match result, source or patient
    changed).

    The feed is ordered by commit: an event appears once every transaction that started
    writing before it has finished, so polling with `after=next_after` never skips one.
    Delivery is at least once from the consumer's point of view: keep the last id processed.
    """
    rows = EventRepository(session).page(after=after, limit=limit)
    items = [EventRead.model_validate(row, from_attributes=True) for row in rows]
    return EventPage(items=items, next_after=items[-1].id if items else after)
