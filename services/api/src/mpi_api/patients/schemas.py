"""Bodies of the patients resource."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mpi_api.patients.ranking import Grade, Tier
from mpi_store.contracts import DEMOGRAPHIC_FIELDS, Demographics
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


class PatientSearch(Demographics):
    """Demographics to look for (any of a record's, at least one), with how many patients to
    answer and the least probability worth answering."""

    # The document says what `_something_to_look_for` enforces: one field that is not blank
    # (every demographic field is a string; a blank one means unknown).
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [field], "properties": {field: {"type": "string", "pattern": r"\S"}}}
                for field in DEMOGRAPHIC_FIELDS
            ]
        }
    )

    limit: int = Field(10, ge=1, le=50, description="At most this many patients")
    min_probability: float | None = Field(
        None, ge=0, le=1, description="Leave out patients whose best record scores below it"
    )

    @model_validator(mode="after")
    def _something_to_look_for(self) -> PatientSearch:
        if all(getattr(self, field) is None for field in DEMOGRAPHIC_FIELDS):
            raise ValueError("at least one demographic field is required")
        return self


class PatientMatchRead(BaseModel):
    """A patient the linker found for a search, with its best record's score."""

    mpi_id: str
    patient: PatientRead = Field(description="As `GET /patients/{mpi_id}` answers it")
    probability: float = Field(description="Splink's match probability of the best record")
    match_weight: float
    tier: Tier = Field(description="The linker's tier: `auto`, `gray` or `reject`")
    grade: Grade = Field(
        description="FHIR match-grade: `certain` is the patient `POST /records` would link "
        "this to; `probable` another in the auto tier; `possible` gray; `certainly-not` below"
    )


class PatientSearchRead(BaseModel):
    items: list[PatientMatchRead] = Field(description="Best first")


class PatientList(BaseModel):
    items: list[PatientRead]
