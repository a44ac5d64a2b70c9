"""`POST /records`, `GET /records/{source}/{source_record_id}`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from mpi_api.deps import ReaderDep, SessionDep, WriterDep
from mpi_api.records import events, service
from mpi_api.records.schemas import RecordLinkRead, RecordRead
from mpi_api.responses import error_responses
from mpi_store.contracts import DEMOGRAPHIC_FIELDS, RecordCreate, StorableText
from mpi_store.repositories import SourceRecordRepository

router = APIRouter(prefix="/records", tags=["records"])


@router.post(
    "",
    operation_id="create_record",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "Update (or replay) of a known record"},
        **error_responses(
            {
                400: "Body is not JSON (`InvalidJSON`: not UTF-8, or nested too deep)",
                413: "Body over the size limit",
                503: "The linker did not answer; nothing was stored",
            }
        ),
    },
)
def create_record(
    body: RecordCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: WriterDep,
) -> RecordLinkRead:
    """Store a facility record and answer which patient (`mpi_id`) it belongs to.

    Idempotent on `(source, source_record_id)`: 201 for a new record, 200 for an update or an
    identical replay (same `mpi_id`).
    """
    principal.require_source(body.source)
    result = service.ingest_record(session, record=body, matcher=request.app.state.matcher)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    link = result.link
    return RecordLinkRead(
        mpi_id=result.golden.mpi_id,
        source=result.record.source,
        source_record_id=result.record.source_record_id,
        record_version=result.record.version,
        link_state=link.link_state,
        match_result=link.match_result,
        link_source=link.link_source,
        decision_id=link.decision_id,
        probability=link.probability,
        match_weight=link.match_weight,
    )


@router.get(
    # `:path`: a facility's id may hold `/` (sent as %2F, which the server decodes first).
    "/{source}/{source_record_id:path}",
    operation_id="read_record",
    responses=error_responses({404: "No such record"}),
)
def read_record(
    source: StorableText, source_record_id: StorableText, session: SessionDep, _: ReaderDep
) -> RecordRead:
    """The stored record as last received, with the patient it is linked to."""
    result = service.get_record(session, source=source, source_record_id=source_record_id)
    record = result.record
    stored_events = SourceRecordRepository(session).events(record.id)
    return RecordRead(
        source=record.source,
        source_record_id=record.source_record_id,
        version=record.version,
        mpi_id=result.golden.mpi_id,
        link_state=result.link.link_state,
        match_result=result.link.match_result,
        link_source=result.link.link_source,
        identifiers=record.identifiers,
        clinical=events.to_clinical(stored_events),
        created_at=record.created_at,
        updated_at=record.updated_at,
        **{field: getattr(record, field) for field in DEMOGRAPHIC_FIELDS},
    )
