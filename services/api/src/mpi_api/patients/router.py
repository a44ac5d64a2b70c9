"""`GET /patients/{mpi_id}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from mpi_api.deps import ReaderDep, SessionDep
from mpi_api.patients import service
from mpi_api.patients.schemas import LinkedRecordRead, PatientRead, RedirectRead
from mpi_api.responses import error_responses
from mpi_store.contracts import StorableText
from mpi_store.enums import GoldenStatus

router = APIRouter(prefix="/patients", tags=["patients"])


@router.get(
    "/{mpi_id}",
    operation_id="read_patient",
    responses={
        308: {"model": RedirectRead, "description": "Merged into another patient"},
        **error_responses({404: "Unknown mpi_id"}),
    },
)
def read_patient(mpi_id: StorableText, session: SessionDep, _: ReaderDep) -> Any:
    """The golden record and its linked source records.

    A merged (redirected) `mpi_id` answers `308 Permanent Redirect` with `Location:
    /patients/<survivor>` and a body naming `redirect_to`; clients that follow redirects get
    the survivor transparently.
    """
    golden, survivor, members = service.get_patient(session, mpi_id=mpi_id)
    if survivor.id != golden.id:
        body = RedirectRead(
            mpi_id=golden.mpi_id, status=GoldenStatus.REDIRECTED, redirect_to=survivor.mpi_id
        )
        return JSONResponse(
            body.model_dump(mode="json"),
            status_code=status.HTTP_308_PERMANENT_REDIRECT,
            headers={"Location": f"/patients/{survivor.mpi_id}"},
        )
    return PatientRead(
        mpi_id=golden.mpi_id,
        status=GoldenStatus(golden.status),
        version=golden.version,
        golden={**golden.attributes, **(golden.override or {})},
        records=[
            LinkedRecordRead(
                link_id=link.id,
                link_version=link.version,
                source=record.source,
                source_record_id=record.source_record_id,
                link_state=link.link_state,
                match_result=link.match_result,
                link_source=link.link_source,
                probability=link.probability,
                links={
                    "history": f"/links/{link.id}/history",
                    "explanation": f"/links/{link.id}/explanation",
                },
            )
            for record, link in members
        ],
        updated_at=golden.updated_at,
    )
