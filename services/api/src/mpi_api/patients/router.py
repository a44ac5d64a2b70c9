"""`GET /patients/{mpi_id}`, `POST /patients/search`, `GET /patients?identifier=`; a steward's
`POST /patients/{mpi_id}/merge`, `unmerge`, `split`.

Every answer that names patients writes a row to the read audit (`mpi_api.audit`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from mpi_api.adjudications.schemas import RecordKey
from mpi_api.audit.service import audit_read
from mpi_api.deps import ReaderDep, SessionDep, SettingsDep, StewardDep
from mpi_api.patients import service, stewardship
from mpi_api.patients.identifiers import IDENTIFIER_PATTERN, patients_with_identifier
from mpi_api.patients.ranking import query_record, rank_patients
from mpi_api.patients.schemas import (
    Conflict,
    MergeCreate,
    MergeRead,
    PatientList,
    PatientMatchRead,
    PatientSearch,
    PatientSearchRead,
    RedirectRead,
    SplitCreate,
    SplitRead,
    UnmergeCreate,
    UnmergeRead,
)
from mpi_api.responses import MergeConflictRead, error_responses
from mpi_store.domain.contracts import StorableText
from mpi_store.domain.enums import GoldenStatus, ReadAction
from mpi_store.models import GoldenRecord, SourceRecord

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


_STEWARD_REDIRECT: dict[int | str, dict[str, Any]] = {
    308: {
        "model": RedirectRead,
        "description": "`mpi_id` was merged: the same request goes to the survivor (`Location`)",
    }
}


@router.post(
    "/{mpi_id}/merge",
    operation_id="merge_patients",
    responses={
        **_STEWARD_REDIRECT,
        409: {
            "model": MergeConflictRead,
            "description": "`MergeConflict`: the records disagree (`conflicts`; send `force` "
            "with a `reason`), or `mpi_id` was merged while the request waited (`Conflict`)",
        },
        **error_responses(
            {
                400: "Body is not JSON (`InvalidJSON`)",
                404: "`mpi_id` or `other_mpi_id` names no patient",
                422: "A bad field (named): `reason` missing with `force`, `other_mpi_id` is "
                "this patient",
            }
        ),
    },
)
def merge_patients(
    mpi_id: StorableText, body: MergeCreate, session: SessionDep, principal: StewardDep
) -> Any:
    """Merge `other_mpi_id` into this patient: **`mpi_id` survives**, the other redirects to it
    (`308`) and its records move here with `MANUAL` `MATCH` links (link history names the key
    as `actor`, `reason` as its note); the golden record is recomputed over both patients'
    records and a `patient.merged` event carries `actor`. `merge_id` undoes it
    (`/patients/{absorbed}/unmerge`).

    `preview: true` writes nothing and answers the golden record and the `conflicts` (two
    SSNs, two birth dates, two values of one identifier system, two records of one source:
    fields and record keys, never values). The real call refuses conflicts (`409
    MergeConflict`) unless `force` with a `reason`. An id already merged into this patient
    answers its merge again (`200`, nothing written), and so does the same merge asked the
    other way round once it is done. An `other_mpi_id` merged elsewhere is followed to its
    survivor, which is the patient merged.
    """
    survivor = stewardship.redirected_to(session, mpi_id=mpi_id)
    if survivor is not None:
        if not stewardship.resolves_to(session, mpi_id=body.other_mpi_id, survivor=survivor):
            return _redirect(mpi_id, survivor, "merge")
        # `mpi_id` was merged into the patient `other_mpi_id` names (the same merge asked the
        # other way round, two stewards racing): that merge answers again.
        mpi_id, body = survivor.mpi_id, body.model_copy(update={"other_mpi_id": mpi_id})
    merged = stewardship.merge(session, mpi_id=mpi_id, body=body, actor=principal.name)
    return MergeRead(
        merge_id=merged.merge_id,
        preview=body.preview,
        mpi_id=merged.survivor.mpi_id,
        absorbed_mpi_id=merged.absorbed.mpi_id,
        golden=merged.golden,
        records=_keys(merged.records),
        conflicts=[Conflict.model_validate(c) for c in merged.conflicts],
    )


@router.post(
    "/{mpi_id}/unmerge",
    operation_id="unmerge_patient",
    responses=error_responses(
        {
            400: "Body is not JSON (`InvalidJSON`)",
            404: "`mpi_id` names no patient",
            409: "`mpi_id` is not merged (an unmerge done twice), `merge_id` is not the merge "
            "in force, or none of the merge's records is on the survivor now",
            422: "A bad field (named)",
        }
    ),
)
def unmerge_patient(
    mpi_id: StorableText,
    session: SessionDep,
    principal: StewardDep,
    body: UnmergeCreate | None = None,
) -> UnmergeRead:
    """Undo the merge of `mpi_id` (the absorbed patient; `merge_id` optional, the latest
    merge by default): it is active again with exactly the records it had at the merge,
    minus those a steward moved off the survivor since (`moved_since`, left where they are).
    Both golden records are recomputed; the restored records' links are `MANUAL` `NO_MATCH`
    with `kept_apart_from` the survivor, so automation never merges the two again. Link
    history and a `patient.unmerged` event name the key as `actor`. Twice is `409`.
    """
    done = stewardship.unmerge(
        session, mpi_id=mpi_id, body=body or UnmergeCreate(), actor=principal.name
    )
    return UnmergeRead(
        unmerge_id=done.unmerge_id,
        merge_id=done.merge_id,
        mpi_id=done.absorbed.mpi_id,
        survivor_mpi_id=done.survivor.mpi_id,
        restored=_keys(done.restored),
        moved_since=_keys(done.moved_since),
    )


@router.post(
    "/{mpi_id}/split",
    operation_id="split_patient",
    responses={
        **_STEWARD_REDIRECT,
        **error_responses(
            {
                400: "Body is not JSON (`InvalidJSON`)",
                404: "`mpi_id` or `to_mpi_id` names no patient, `records[i]` no record",
                409: "`mpi_id` was merged while the request waited",
                422: "A bad field (named): `records[i]` on another patient (or named twice), "
                "`records` naming all of them, `to_mpi_id` this patient",
            }
        ),
    },
)
def split_patient(
    mpi_id: StorableText, body: SplitCreate, session: SessionDep, principal: StewardDep
) -> Any:
    """Move `records` off this patient onto a new one (`patient.created`) or `to_mpi_id`,
    with `MANUAL` `NO_MATCH` links kept apart from this patient (`kept_apart_from`), which
    automation never joins them with again. Both golden records are recomputed; link
    history and a `patient.split` event name the key as `actor`.
    """
    survivor = stewardship.redirected_to(session, mpi_id=mpi_id)
    if survivor is not None:
        return _redirect(mpi_id, survivor, "split")
    done = stewardship.split(session, mpi_id=mpi_id, body=body, actor=principal.name)
    return SplitRead(
        split_id=done.split_id,
        mpi_id=done.left.mpi_id,
        to_mpi_id=done.target.mpi_id,
        created=done.created,
        moved=_keys(done.moved),
    )


def _redirect(mpi_id: str, survivor: GoldenRecord, action: str) -> JSONResponse:
    body = RedirectRead(mpi_id=mpi_id, status=GoldenStatus.REDIRECTED, redirect_to=survivor.mpi_id)
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status.HTTP_308_PERMANENT_REDIRECT,
        headers={"Location": f"/patients/{survivor.mpi_id}/{action}"},
    )


def _keys(records: list[SourceRecord]) -> list[RecordKey]:
    return [RecordKey(source=r.source, source_record_id=r.source_record_id) for r in records]
