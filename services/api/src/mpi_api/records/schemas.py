"""Response bodies of the records resource."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, Field

from mpi_api.responses import FieldProblem
from mpi_store.domain.contracts import Clinical, Identifier, Sex
from mpi_store.domain.enums import LinkSource, LinkState, MatchResult


class RecordLinkRead(BaseModel):
    """Where a posted record landed and why."""

    mpi_id: str
    source: str
    source_record_id: str
    record_version: int
    link_state: LinkState
    match_result: MatchResult
    link_source: LinkSource
    decision_id: uuid.UUID
    probability: float | None
    match_weight: float | None
    warnings: list[FieldProblem] = Field(
        default_factory=list,
        description="Lenient intake only: each invalid field that was dropped (stored null)",
    )


class RecordRead(BaseModel):
    source: str
    source_record_id: str
    version: int
    mpi_id: str
    link_state: LinkState
    match_result: MatchResult
    link_source: LinkSource
    given_name: str | None
    middle_name: str | None
    family_name: str | None
    birth_date: dt.date | None
    sex: Sex | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    postcode: str | None
    country: str | None
    phone: str | None
    email: str | None
    ssn: str | None
    identifiers: list[Identifier]
    clinical: Clinical
    dropped_values: dict[str, Any] | None = Field(
        description="Fields a lenient source sent invalid, as received (stored null above)"
    )
    created_at: dt.datetime
    updated_at: dt.datetime
