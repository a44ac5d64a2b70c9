"""Bodies of the patients resource: reads, search, and a steward's merge, unmerge and split."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

from mpi_api.adjudications.schemas import RecordKey
from mpi_api.patients.ranking import Grade
from mpi_linker.model.artifact import Tier
from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS, Demographics, StorableText
from mpi_store.domain.enums import GoldenStatus, LinkSource, LinkState, MatchResult


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


# A character Python's `str.strip` keeps: not whitespace to JSON Schema (`\s`) nor to Python
# (which also strips U+001C-U+001F and U+0085), so the document and the validator agree.
NOT_BLANK = r"[^\s\u001c-\u001f\u0085]"


class PatientSearch(Demographics):
    """Demographics to look for (any of a record's, at least one), with how many patients to
    answer and the least probability worth answering."""

    # The document says what `_something_to_look_for` enforces: one field that is not blank
    # (every demographic field is a string; a blank one means unknown).
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {
                    "required": [field],
                    "properties": {field: {"type": "string", "pattern": NOT_BLANK}},
                }
                for field in DEMOGRAPHIC_FIELDS
            ]
        }
    )

    limit: int = Field(10, ge=1, le=50, description="At most this many patients")
    min_probability: float | None = Field(
        None, ge=0, le=1, description="Leave out patients whose best record scores below it"
    )

    @field_validator("limit", "min_probability", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: object) -> object:
        # Lax mode reads `true` as 1; JSON Schema's integer still admits 46.0, so not strict.
        if isinstance(value, bool):
            raise ValueError("must be a number, not a boolean")
        return value

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


# The document states what the validator enforces: `force` needs a `reason` (not blank).
_REASON_WITH_FORCE: JsonDict = {
    "oneOf": [
        {"properties": {"force": {"const": False}}},
        {
            "properties": {
                "force": {"const": True},
                "reason": {"type": "string", "pattern": "\\S"},
            },
            "required": ["force", "reason"],
        },
    ]
}


class MergeCreate(BaseModel):
    """Merge `other_mpi_id` into this patient (this one survives)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_REASON_WITH_FORCE)

    other_mpi_id: StorableText = Field(
        min_length=1, max_length=40, description="The patient absorbed (it redirects here)"
    )
    preview: bool = Field(default=False, description="Write nothing; answer what would result")
    force: bool = Field(default=False, description="Merge despite `conflicts` (needs `reason`)")
    reason: StorableText | None = Field(
        default=None,
        validate_default=True,
        max_length=1000,
        description="Why, for link history (record ids, not demographics); required with force",
    )

    @field_validator("reason")
    @classmethod
    def _reason_with_force(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("force") and not (value and value.strip()):
            raise ValueError("required with force")
        return value


class Conflict(BaseModel):
    """Two records, one on each patient, that disagree on a field (never the values)."""

    field: str = Field(description="`ssn`, `birth_date` or `identifiers`")
    system: str | None = Field(
        default=None, description="For `identifiers`: the system with two values"
    )
    records: list[RecordKey]


class MergeRead(BaseModel):
    merge_id: int | None = Field(
        description="The `patient.merged` event's id (pass to `/unmerge`); null in a preview"
    )
    preview: bool
    mpi_id: str = Field(description="The survivor")
    absorbed_mpi_id: str = Field(description="Redirects (308) to the survivor once merged")
    golden: dict[str, Any] = Field(description="Survivorship over both patients' records")
    records: list[RecordKey]
    conflicts: list[Conflict]


class UnmergeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    merge_id: int | None = Field(
        default=None,
        ge=1,
        description="The merge to undo (its `patient.merged` event); none: the latest (only "
        "compared with it, never looked up: any other number is `409`)",
    )
    reason: StorableText | None = Field(default=None, max_length=1000)


class UnmergeRead(BaseModel):
    unmerge_id: int = Field(description="The `patient.unmerged` event's id")
    merge_id: int
    mpi_id: str = Field(description="The patient back to life")
    survivor_mpi_id: str = Field(description="The patient it had been merged into")
    restored: list[RecordKey] = Field(description="Back on `mpi_id`")
    moved_since: list[RecordKey] = Field(
        description="Records of the merge a steward moved elsewhere since: left where they are"
    )


class RecordRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: StorableText = Field(min_length=1, max_length=100)
    source_record_id: StorableText = Field(min_length=1, max_length=100)


class SplitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[RecordRef] = Field(min_length=1, max_length=1000)
    to_mpi_id: StorableText | None = Field(
        default=None, min_length=1, max_length=40, description="None: a new patient"
    )
    reason: StorableText | None = Field(default=None, max_length=1000)


class SplitRead(BaseModel):
    split_id: int = Field(description="The `patient.split` event's id")
    mpi_id: str = Field(description="The patient the records left")
    to_mpi_id: str = Field(description="The patient they are on now, kept apart from `mpi_id`")
    created: bool = Field(description="`to_mpi_id` is a new patient")
    moved: list[RecordKey]
