"""`GET /patients/{mpi_id}`, `POST /patients/search`, `GET /patients?identifier=`.

Every answer that names patients writes a row to the read audit (`mpi_api.audit`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from mpi_api.audit.service import audit_read
from mpi_api.deps import ReaderDep, SessionDep, SettingsDep
from mpi_api.patients import service
from mpi_api.patients.identifiers import IDENTIFIER_PATTERN, patients_with_identifier
from mpi_api.patients.ranking import query_record, rank_patients
from mpi_api.patients.schemas import (
    PatientList,
    PatientMatchRead,
    PatientSearch,
    PatientSearchRead,
    RedirectRead,
)
from mpi_api.responses import error_responses
from mpi_store.contracts import StorableText
from mpi_store.enums import GoldenStatus, ReadAction

router = APIRouter(prefix="/patients", tags=["patients"])


@router.get(
    "",
    operation_id="find_patients",
    responses=error_responses({422: "`identifier` is not `SYSTEM|VALUE` (`query.identifier`)"}),
)
def find_patients(
    identifier: Annotated[
        StorableText,
        Query(
            max_length=300,
            pattern=IDENTIFIER_PATTERN,
            description="`SYSTEM|VALUE`: a facility MRN system (the record's key) or any "
            "identifier system of the records' `identifiers`",
        ),
    ],
    session: SessionDep,
    principal: ReaderDep,
    settings: SettingsDep,
) -> PatientList:
    """The patients holding a record with this identifier (merged ones as their survivor),
    oldest first; an unknown identifier gives no items."""
    goldens = patients_with_identifier(
        session, identifier=identifier, mrn_systems=settings.fhir_mrn_systems
    )
    items = [service.patient_read(golden, service.members(session, golden)) for golden in goldens]
    audit_read(
        session,
        principal=principal,
        action=ReadAction.FIND_PATIENTS,
        mpi_ids=[item.mpi_id for item in items],
        result_count=len(items),
    )
    return PatientList(items=items)


@router.post(
    "/search",
    operation_id="search_patients",
    responses=error_responses(
        {
            400: "Body is not JSON (`InvalidJSON`)",
            422: "A bad field (named), or no demographic field at all (`body`)",
            503: "The linker did not answer",
        }
    ),
)
def search_patients(
    body: PatientSearch, request: Request, session: SessionDep, principal: ReaderDep
) -> PatientSearchRead:
    """Patients ranked by the linker's score for these demographics (a partial chart will
    do: a family name and a birth date): the dry run `POST /records` would make, writing
    nothing but the read audit's row. Each patient once, by its best-scoring record."""
    ranked = rank_patients(
        session,
        record=query_record(body),
        matcher=request.app.state.matcher,
        count=body.limit,
        min_probability=body.min_probability,
    )
    items = [
        PatientMatchRead(
            mpi_id=found.golden.mpi_id,
            patient=service.patient_read(found.golden, found.members),
            probability=found.probability,
            match_weight=found.match_weight,
            tier=found.tier,
            grade=found.grade,
        )
        for found in ranked
    ]
    audit_read(
        session,
        principal=principal,
        action=ReadAction.SEARCH_PATIENTS,
        mpi_ids=[item.mpi_id for item in items],
        result_count=len(items),
    )
    return PatientSearchRead(items=items)


@router.get(
    "/{mpi_id}",
    operation_id="read_patient",
    responses={
        308: {"model": RedirectRead, "description": "Merged into another patient"},
        **error_responses({404: "Unknown mpi_id"}),
    },
)
def read_patient(mpi_id: StorableText, session: SessionDep, principal: ReaderDep) -> Any:
    """The golden record and its linked source records.

    A merged (redirected) `mpi_id` answers `308 Permanent Redirect` with `Location:
    /patients/<survivor>` and a body naming `redirect_to`; clients that follow redirects get
    the survivor transparently.
    """
    golden, survivor, members = service.get_patient(session, mpi_id=mpi_id)
    redirected = survivor.id != golden.id
    audit_read(
        session,
        principal=principal,
        action=ReadAction.READ_PATIENT,
        mpi_ids=[golden.mpi_id],
        result_count=0 if redirected else 1,
    )
    if redirected:
        body = RedirectRead(
            mpi_id=golden.mpi_id, status=GoldenStatus.REDIRECTED, redirect_to=survivor.mpi_id
        )
        return JSONResponse(
            body.model_dump(mode="json"),
            status_code=status.HTTP_308_PERMANENT_REDIRECT,
            headers={"Location": f"/patients/{survivor.mpi_id}"},
        )
    return service.patient_read(golden, members)
