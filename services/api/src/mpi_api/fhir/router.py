"""`/fhir/Patient`: create, conditional update, read, and search by identifier."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from mpi_api.audit.service import audit_read
from mpi_api.auth.service import Principal
from mpi_api.deps import ReaderDep, SessionDep, SettingsDep, WriterDep
from mpi_api.fhir.bundle import ingest_transaction, transaction_response
from mpi_api.fhir.capability import capability_statement
from mpi_api.fhir.match import match_patient
from mpi_api.fhir.outcome import MEDIA_TYPE, PREFIX, FhirError, outcome_responses
from mpi_api.fhir.patient import (
    golden_patient,
    mpi_id_of,
    parse_patient,
    replaced_patient,
    source_key,
    to_record,
)
from mpi_api.fhir.pix import cross_references
from mpi_api.patients.identifiers import patients_with_identifier, split_identifier
from mpi_api.patients.service import get_patient
from mpi_api.records import service
from mpi_api.settings import Settings
from mpi_store.domain.contracts import StorableText
from mpi_store.domain.enums import ReadAction
from mpi_store.models import GoldenRecord
from mpi_store.repositories import GoldenRecordRepository, LinkRepository


class FhirJSONResponse(JSONResponse):
    """Answers documented (and sent) as `application/fhir+json`."""

    media_type = MEDIA_TYPE


router = APIRouter(prefix=PREFIX, tags=["fhir"], default_response_class=FhirJSONResponse)

FhirBody = Annotated[Any, Body(media_type=MEDIA_TYPE)]
IdentifierQuery = Annotated[StorableText, Query(description="`SYSTEM|VALUE`")]


@router.post(
    "/Patient",
    operation_id="fhir_create_patient",
    status_code=201,
    responses={
        200: {"description": "Update (or replay) of a known record"},
        **outcome_responses({503: "The linker did not answer; nothing was stored"}),
    },
)
def fhir_create_patient(
    body: FhirBody,
    request: Request,
    session: SessionDep,
    principal: WriterDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Store a Patient as its facility's record (the same path as `POST /records`): 201 with
    the golden Patient for a new record, 200 for an update or replay."""
    return _write(body, request=request, session=session, principal=principal, settings=settings)


@router.put(
    "/Patient",
    operation_id="fhir_update_patient",
    responses={
        201: {"description": "No record had that identifier: created"},
        **outcome_responses(
            {
                412: "The condition does not name one facility record",
                503: "The linker did not answer; nothing was stored",
            }
        ),
    },
)
def fhir_update_patient(
    body: FhirBody,
    identifier: IdentifierQuery,
    request: Request,
    session: SessionDep,
    principal: WriterDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Conditional update on a facility MRN (`identifier=SYSTEM|VALUE`); 412 when the condition
    does not name exactly one record."""
    key = _condition_key(identifier, settings)
    if key is None:
        raise FhirError(
            412,
            "the condition must name one record: identifier=SYSTEM|VALUE with a facility MRN "
            "system",
            expression="identifier",
        )
    return _write(
        body, request=request, session=session, principal=principal, settings=settings, key=key
    )


@router.get("/metadata", operation_id="fhir_capabilities")
def fhir_capabilities(request: Request) -> JSONResponse:
    """The CapabilityStatement: the interactions and operations implemented here."""
    return _fhir(capability_statement(request.app.version))


@router.post(
    "",
    operation_id="fhir_transaction",
    responses=outcome_responses({503: "The linker did not answer; nothing was stored"}),
)
def fhir_transaction(
    body: FhirBody,
    request: Request,
    session: SessionDep,
    principal: WriterDep,
    settings: SettingsDep,
) -> JSONResponse:
    """A `transaction` Bundle: one Patient and its clinical resources (referencing it by
    `fullUrl`) stored as one record with its clinical history; a `transaction-response`."""
    result, entries = ingest_transaction(
        session,
        body=body,
        matcher=request.app.state.matcher,
        principal=principal,
        mrn_systems=settings.fhir_mrn_systems,
    )
    patient = _golden(session, result.golden, settings)
    return _fhir(transaction_response(result, entries, patient["id"]))


@router.post(
    "/Patient/$match",
    operation_id="fhir_match_patient",
    responses=outcome_responses({503: "The linker did not answer"}),
)
def fhir_match_patient(
    body: FhirBody,
    request: Request,
    session: SessionDep,
    principal: ReaderDep,
    settings: SettingsDep,
) -> JSONResponse:
    """PDQm `$match` (ITI-119): golden Patients graded against a query Patient (`Parameters`
    with `resource`, `onlyCertainMatches`, `count`); a dry run that stores nothing but the
    read audit's row."""
    bundle = match_patient(
        session, body=body, matcher=request.app.state.matcher, mrn_systems=settings.fhir_mrn_systems
    )
    audit_read(
        session,
        principal=principal,
        action=ReadAction.FHIR_MATCH_PATIENT,
        mpi_ids=[mpi_id_of(entry["resource"]["id"]) for entry in bundle["entry"]],
        result_count=bundle["total"],
    )
    return _fhir(bundle)


@router.get("/Patient", operation_id="fhir_search_patient", responses=outcome_responses({}))
def fhir_search_patient(
    identifier: IdentifierQuery, session: SessionDep, principal: ReaderDep, settings: SettingsDep
) -> JSONResponse:
    """A searchset Bundle holding the golden Patients of a source identifier (or nothing)."""
    found = [
        _golden(session, golden, settings)
        for golden in patients_with_identifier(
            session, identifier=identifier, mrn_systems=settings.fhir_mrn_systems
        )
    ]
    audit_read(
        session,
        principal=principal,
        action=ReadAction.FHIR_SEARCH_PATIENT,
        mpi_ids=[mpi_id_of(patient["id"]) for patient in found],
        result_count=len(found),
    )
    return _fhir(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "entry": [
                {
                    "fullUrl": f"{PREFIX}/Patient/{patient['id']}",
                    "resource": patient,
                    "search": {"mode": "match"},
                }
                for patient in found
            ],
        }
    )


@router.get(
    "/Patient/$ihe-pix",
    operation_id="fhir_pix_query",
    responses=outcome_responses({404: "sourceIdentifier is not a facility MRN system|value"}),
)
def fhir_pix_query(
    sourceIdentifier: IdentifierQuery,
    session: SessionDep,
    principal: ReaderDep,
    settings: SettingsDep,
    targetSystem: Annotated[list[str] | None, Query()] = None,
) -> JSONResponse:
    """PIXm (ITI-83): every facility identifier of the same patient, and its golden Patient."""
    key = _condition_key(sourceIdentifier, settings)
    if key is None:
        raise FhirError(
            404,
            "sourceIdentifier must be SYSTEM|VALUE with a facility MRN system",
            expression="sourceIdentifier",
        )
    parameters, mpi_id = cross_references(
        session, key=key, target_systems=targetSystem or [], mrn_systems=settings.fhir_mrn_systems
    )
    audit_read(
        session,
        principal=principal,
        action=ReadAction.FHIR_PIX_QUERY,
        mpi_ids=[mpi_id] if mpi_id else [],
        result_count=sum(p["name"] == "targetIdentifier" for p in parameters.get("parameter", [])),
    )
    return _fhir(parameters)


@router.get(
    "/Patient/{resource_id}",
    operation_id="fhir_read_patient",
    responses=outcome_responses({404: "Unknown id"}),
)
def fhir_read_patient(
    resource_id: StorableText, session: SessionDep, principal: ReaderDep, settings: SettingsDep
) -> JSONResponse:
    """The golden record as a Patient; a merged id answers an inactive Patient `replaced-by`
    its survivor."""
    golden, survivor, members = get_patient(session, mpi_id=mpi_id_of(resource_id))
    audit_read(
        session,
        principal=principal,
        action=ReadAction.FHIR_READ_PATIENT,
        mpi_ids=[golden.mpi_id],
        result_count=1 if survivor.id == golden.id else 0,
    )
    if survivor.id != golden.id:
        return _fhir(replaced_patient(golden, survivor))
    return _fhir(golden_patient(golden, members, mrn_systems=settings.fhir_mrn_systems))


def _fhir(content: dict[str, Any], status_code: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(content, status_code=status_code, media_type=MEDIA_TYPE, headers=headers)


def _condition_key(identifier: str, settings: Settings) -> tuple[str, str] | None:
    parts = split_identifier(identifier)
    return None if parts is None else source_key(*parts, settings.fhir_mrn_systems)


def _write(
    body: Any,
    *,
    request: Request,
    session: Session,
    principal: Principal,
    settings: Settings,
    key: tuple[str, str] | None = None,
) -> JSONResponse:
    record = to_record(parse_patient(body), mrn_systems=settings.fhir_mrn_systems)
    if key is not None and (record.source, record.source_record_id) != key:
        raise FhirError(
            400,
            "the Patient's MRN identifier differs from the condition",
            expression="Patient.identifier",
        )
    principal.require_source(record.source)
    result = service.ingest_record(session, record=record, matcher=request.app.state.matcher)
    patient = _golden(session, result.golden, settings)
    return _fhir(
        patient,
        status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        Location=f"{PREFIX}/Patient/{patient['id']}",
    )


def _golden(session: Session, golden: GoldenRecord, settings: Settings) -> dict[str, Any]:
    survivor = GoldenRecordRepository(session).survivor(golden)
    members = LinkRepository(session).records_of_golden(survivor.id)
    return golden_patient(survivor, members, mrn_systems=settings.fhir_mrn_systems)
