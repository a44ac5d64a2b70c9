"""The read audit: one row per audited read, and pages of it newest first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mpi_store.models import ReadAudit


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    action: str | None = None
    mpi_id: str | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None


class ReadAuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        *,
        api_key_id: int | None,
        actor: str,
        action: str,
        mpi_ids: list[str],
        record_keys: list[tuple[str, str]],
        result_count: int,
    ) -> None:
        """Written with the read's own transaction (at its commit): one INSERT per read."""
        self.session.add(
            ReadAudit(
                api_key_id=api_key_id,
                actor=actor,
                action=action,
                mpi_ids=mpi_ids,
                record_keys=[list(key) for key in record_keys],
                result_count=result_count,
            )
        )

    def page(self, filters: AuditFilters, *, before: int | None, limit: int) -> list[ReadAudit]:
        """Rows by the filters, newest first, below the row `before` (from the newest: None)."""
        query = select(ReadAudit)
        for column, value in (
            (ReadAudit.actor, filters.actor),
            (ReadAudit.action, filters.action),
        ):
            if value is not None:
                query = query.where(column == value)
        if filters.mpi_id is not None:
            query = query.where(ReadAudit.mpi_ids.contains([filters.mpi_id]))
        if filters.created_after is not None:
            query = query.where(ReadAudit.created_at >= filters.created_after)
        if filters.created_before is not None:
            query = query.where(ReadAudit.created_at < filters.created_before)
        if before is not None:
            query = query.where(ReadAudit.id < before)
        return list(self.session.scalars(query.order_by(ReadAudit.id.desc()).limit(limit)))
