"""Bodies of the audit resource."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from mpi_api.adjudications.schemas import RecordKey
from mpi_store.domain.enums import ReadAction


class AuditRead(BaseModel):
    """One audited read: ids only, never demographic values or search inputs."""

    id: int
    actor: str = Field(description="The API key's name")
    api_key_id: int | None = Field(description="The key's id (`mpi keys list`); null: dev key")
    action: ReadAction
    mpi_ids: list[str] = Field(description="The patients the answer named")
    records: list[RecordKey] = Field(description="The records a record read named")
    result_count: int
    created_at: dt.datetime


class AuditPage(BaseModel):
    items: list[AuditRead]
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null: done"
    )
