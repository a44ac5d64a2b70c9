"""Response bodies of the patients resource."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from mpi_store.enums import GoldenStatus, LinkSource, LinkState, MatchResult


class LinkedRecordRead(BaseModel):
    link_id: int = Field(description="For `/links/{id}/decision` and `/links/{id}/history`")
    link_version: int
    source: str
    source_record_id: str
    link_state: LinkState
    match_result: MatchResult
    link_source: LinkSource
    probability: float | None
    links: dict[str, str] = Field(description="`history` and `explanation` of the link")


class PatientRead(BaseModel):
    """A golden record: survivorship per field plus every source record linked to it."""

    mpi_id: str
    status: GoldenStatus
    version: int
    golden: dict[str, Any]
    records: list[LinkedRecordRead]
    updated_at: dt.datetime


class RedirectRead(BaseModel):
    """Answer for a merged `mpi_id` (status 308, `Location` names the survivor)."""

    mpi_id: str
    status: GoldenStatus
    redirect_to: str
