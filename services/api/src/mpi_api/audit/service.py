"""Write an audit row for a read, in the read's own transaction.

One INSERT per read, flushed with the request's commit: a read that commits is audited, and
a failed audit write fails the read (a transient database error is the usual `503`). Ids
only: never demographic values, never what a search looked for.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from mpi_api.auth.service import Principal
from mpi_store.domain.enums import ReadAction
from mpi_store.repositories import ReadAuditRepository


def audit_read(
    session: Session,
    *,
    principal: Principal,
    action: ReadAction,
    mpi_ids: Iterable[str],
    result_count: int,
    record_keys: Iterable[tuple[str, str]] = (),
) -> None:
    """Record that `principal` read these patients (and records) through `action`."""
    ReadAuditRepository(session).add(
        api_key_id=principal.key_id,
        actor=principal.name,
        action=action,
        mpi_ids=list(dict.fromkeys(mpi_ids)),
        record_keys=list(record_keys),
        result_count=result_count,
    )
