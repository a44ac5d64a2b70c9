"""`POST /records`, `GET /records/{source}/{source_record_id}`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response, status

from mpi_api.audit.service import audit_read
from mpi_api.deps import ReaderDep, SessionDep, SettingsDep, WriterDep
from mpi_api.records import events, intake, service
from mpi_api.records.schemas import RecordLinkRead, RecordRead
from mpi_api.responses import error_responses
from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS, StorableText
from mpi_store.domain.enums import ReadAction
from mpi_store.repositories import SourceRecordRepository

router = APIRouter(prefix="/records", tags=["records"])

# The body is read by `intake` (strict, or lenient per key or source); documented as the record.
RECORD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RecordCreate"}}},
    }
}


@router.post(
    "",
    operation_id="create_record",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=RECORD_BODY,
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
    body: Annotated[dict[str, Any], Body()],
    request: Request,
    response: Response,
    session: SessionDep,
    principal: WriterDep,
    settings: SettingsDep,
) -> RecordLinkRead:
    """Store a facility record and answer which patient (`mpi_id`) it belongs to.

    Idempotent on `(source, source_record_id)`: 201 for a new record, 200 for an update or an
    identical replay (same `mpi_id`). A lenient key or source stores a record whose optional
    demographic fields are invalid with those fields dropped, listed in `warnings`.
    """
    lenient = intake.is_lenient(principal, settings, body)
    received = intake.read_record(body, lenient=lenient)
    principal.require_source(received.record.source)
    result = service.ingest_record(
        session,
        record=received.record,
        matcher=request.app.state.matcher,
        dropped_values=received.dropped,
    )
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
        warnings=received.warnings,
    )


@router.get(
    # `:path`: a facility's id may hold `/` (sent as %2F, which the server decodes first).
    "/{source}/{source_record_id:path}",
    operation_id="read_record",
    responses=error_responses({404: "No such record"}),
)
def read_record(
    source: StorableText, source_record_id: StorableText, session: SessionDep, principal: ReaderDep
) -> RecordRead:
    """The stored record as last received, with the patient it is linked to."""
    result = service.get_record(session, source=source, source_record_id=source_record_id)
    record = result.record
    audit_read(
        session,
        principal=principal,
        action=ReadAction.READ_RECORD,
        mpi_ids=[result.golden.mpi_id],
        record_keys=[(record.source, record.source_record_id)],
        result_count=1,
    )
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
        dropped_values=record.dropped_values,
        created_at=record.created_at,
        updated_at=record.updated_at,
        **{field: getattr(record, field) for field in DEMOGRAPHIC_FIELDS},
    )
