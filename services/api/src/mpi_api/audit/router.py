"""`GET /audit`: the audit of reads, newest first, for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mpi_api.adjudications.schemas import RecordKey
from mpi_api.audit.schemas import AuditPage, AuditRead
from mpi_api.deps import AdminDep, SessionDep
from mpi_api.responses import error_responses
from mpi_store.domain.contracts import MAX_ID, StorableText, Timestamp
from mpi_store.domain.enums import ReadAction
from mpi_store.repositories import AuditFilters, ReadAuditRepository

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", operation_id="list_audit", responses=error_responses({}))
def list_audit(
    session: SessionDep,
    _: AdminDep,
    actor: Annotated[
        StorableText | None, Query(max_length=100, description="The key's name")
    ] = None,
    action: ReadAction | None = None,
    mpi_id: Annotated[
        StorableText | None,
        Query(max_length=40, description="Reads that named this patient (as it was then)"),
    ] = None,
    created_after: Annotated[Timestamp | None, Query(description="Read at or after")] = None,
    created_before: Annotated[Timestamp | None, Query(description="Read before")] = None,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="`next_before` of the page before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Who read which patients and records, newest first: the key, the route (`action`, its
    operation id), the patients and records the answer named, how many results, when."""
    filters = AuditFilters(
        actor=actor,
        action=action,
        mpi_id=mpi_id,
        created_after=created_after,
        created_before=created_before,
    )
    rows = ReadAuditRepository(session).page(filters, before=before, limit=limit)
    items = [
        AuditRead(
            id=row.id,
            actor=row.actor,
            api_key_id=row.api_key_id,
            action=ReadAction(row.action),
            mpi_ids=row.mpi_ids,
            records=[RecordKey(source=s, source_record_id=r) for s, r in row.record_keys],
            result_count=row.result_count,
            created_at=row.created_at,
        )
        for row in rows
    ]
    return AuditPage(items=items, next_before=items[-1].id if len(items) == limit else None)
