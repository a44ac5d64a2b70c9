"""`GET /adjudications`, `POST /adjudications/{id}/requeue`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query

from mpi_api.adjudications import service
from mpi_api.adjudications.schemas import AdjudicationPage, AdjudicationRead, RecordKey
from mpi_api.deps import AdminDep, ReaderDep, SessionDep, SettingsDep
from mpi_api.responses import error_responses
from mpi_store.domain.contracts import MAX_ID
from mpi_store.domain.enums import AdjudicationState, Verdict
from mpi_store.models import Adjudication, SourceRecord

router = APIRouter(prefix="/adjudications", tags=["adjudications"])


@router.get("", operation_id="list_adjudications", responses=error_responses({}))
def list_adjudications(
    session: SessionDep,
    _: ReaderDep,
    state: Annotated[AdjudicationState | None, Query(description="Only this state")] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Ids above this (paging)")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AdjudicationPage:
    """Gray pairs in id order with their scores and verdicts; page with `after=next_after`."""
    rows = service.list_adjudications(session, state=state, after=after, limit=limit)
    items = [_read(a, record, candidate) for a, record, candidate in rows]
    return AdjudicationPage(items=items, next_after=items[-1].id if len(items) == limit else None)


@router.post(
    "/{adjudication_id}/requeue",
    operation_id="requeue_adjudication",
    responses=error_responses(
        {404: "Unknown adjudication", 409: "Neither failed nor a stale pending one"}
    ),
)
def requeue_adjudication(
    adjudication_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: SessionDep,
    settings: SettingsDep,
    _: AdminDep,
) -> AdjudicationRead:
    """Send a failed adjudication back to the classifier (state `pending` again), or a pending
    one untouched for `MPI_API_REQUEUE_PENDING_AFTER_SECONDS` (its worker died holding it)."""
    stale_after = dt.timedelta(seconds=settings.requeue_pending_after_seconds)
    adjudication = service.requeue(
        session, adjudication_id=adjudication_id, stale_after=stale_after
    )
    return _read(adjudication, *service.records_of(session, adjudication))


def _read(
    adjudication: Adjudication, record: SourceRecord, candidate: SourceRecord
) -> AdjudicationRead:
    return AdjudicationRead(
        id=adjudication.id,
        state=AdjudicationState(adjudication.state),
        record=RecordKey(source=record.source, source_record_id=record.source_record_id),
        candidate=RecordKey(source=candidate.source, source_record_id=candidate.source_record_id),
        splink_probability=adjudication.probability,
        splink_model=adjudication.model_version,
        classifier_probability=adjudication.classifier_probability,
        fused_probability=adjudication.fused_probability,
        verdict=Verdict(adjudication.verdict) if adjudication.verdict else None,
        classifier_backend=adjudication.classifier_backend,
        classifier_model=adjudication.classifier_model,
        abstain_reason=adjudication.abstain_reason,
        accept_alone_threshold=adjudication.accept_alone_threshold,
        created_at=adjudication.created_at,
        updated_at=adjudication.updated_at,
    )
