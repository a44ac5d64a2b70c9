"""Bodies of the links resource: the review queue, a steward's decision, link history."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.config import JsonDict

from mpi_api.adjudications.schemas import RecordKey
from mpi_store.domain.contracts import StorableText
from mpi_store.domain.enums import AdjudicationState, LinkSource, LinkState, MatchResult, Verdict

WaitingFor = Literal["classifier", "classifier_failed", "steward"]


class PairRead(BaseModel):
    """A gray pair of the record's: the candidate, the scores and what the classifier said."""

    adjudication_id: int
    candidate: RecordKey
    candidate_mpi_id: str = Field(description="The patient the candidate record is on now")
    state: AdjudicationState
    splink_probability: float
    classifier_probability: float | None
    fused_probability: float | None
    verdict: Verdict | None
    abstain_reason: str | None
    review_reasons: list[str] | None = Field(
        description="Why a `review` verdict waits for a person (guards, MANUAL links)"
    )


class DisputeRead(BaseModel):
    """Automation disagrees with this MANUAL decision (which stands until a steward decides
    the link again): a relink under a new model, a classifier verdict, or the decision the
    record's changed content gets (`record_updated`)."""

    by: Literal["relink", "classifier", "record_updated"]
    proposal: Literal["join", "separate"] = Field(
        description="`join`: automation would put the record with `mpi_ids`; `separate`: it "
        "would take the record off its patient"
    )
    mpi_ids: list[str] = Field(description="The patients automation would join the record with")
    model_version: str | None = Field(
        None,
        description="The linker model (relink, record_updated) or classifier model that disagrees",
    )
    adjudication_id: int | None = Field(None, description="The classifier's pair")
    reasons: list[str] = Field([], description="Why the pair was not merged (`review_reasons`)")
    at: dt.datetime


class LinkRead(BaseModel):
    """A record's current link and, for a gray record, its pairs; keys, ids and scores only."""

    id: int
    version: int = Field(description="Send it back with a decision (a stale one is `409`)")
    record: RecordKey
    mpi_id: str = Field(description="The patient the record is linked to")
    match_result: MatchResult
    link_source: LinkSource
    link_state: LinkState
    probability: float | None = Field(description="Splink's probability for this decision")
    model_version: str | None
    rule: str | None = Field(description="What decided the link: `auto`, `gray_zone`, `manual`…")
    guards: list[str] = Field(description="Guards that fired on this decision")
    waiting_for: WaitingFor | None = Field(
        description="Why a POSSIBLE_MATCH or a disputed link waits; null when nothing does"
    )
    disputed: DisputeRead | None = Field(
        description="Automation disagrees with this MANUAL decision; null when it does not"
    )
    kept_apart_from: list[str] = Field(
        description="Patients a steward's NO_MATCH keeps this record away from"
    )
    pairs: list[PairRead]
    created_at: dt.datetime
    updated_at: dt.datetime


class LinkPage(BaseModel):
    items: list[LinkRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: done")


# The document states what the validator enforces: `mpi_id` with MATCH, never with NO_MATCH.
_ONE_OF_DECISIONS: JsonDict = {
    "oneOf": [
        {
            "properties": {"match_result": {"const": "MATCH"}, "mpi_id": {"type": "string"}},
            "required": ["mpi_id"],
        },
        {"properties": {"match_result": {"const": "NO_MATCH"}}, "not": {"required": ["mpi_id"]}},
    ]
}


class LinkDecisionCreate(BaseModel):
    """A steward's decision: MATCH to a named patient, or NO_MATCH (split off, kept apart)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_ONE_OF_DECISIONS)

    match_result: Literal[MatchResult.MATCH, MatchResult.NO_MATCH]
    mpi_id: StorableText | None = Field(
        default=None,
        validate_default=True,
        min_length=1,
        max_length=40,
        description="With MATCH (required): the patient the record belongs to",
    )
    version: int = Field(ge=1, le=2**31 - 1, description="The link's version you decided on")
    reason: StorableText | None = Field(
        default=None,
        max_length=1000,
        description="Why, for link history (record ids, not demographics)",
    )

    @field_validator("mpi_id")
    @classmethod
    def _mpi_id_with_match_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        match_result = info.data.get("match_result")
        if match_result == MatchResult.MATCH and value is None:
            raise ValueError("required with MATCH")
        if match_result == MatchResult.NO_MATCH and value is not None:
            raise ValueError("only with MATCH (a NO_MATCH names no patient)")
        return value


class LinkRevisionRead(BaseModel):
    """One decision on the link, as link history stored it."""

    decision_id: str
    match_result: MatchResult
    link_source: LinkSource
    link_state: LinkState
    mpi_id: str
    previous_mpi_id: str | None = Field(description="The patient the record left, if it moved")
    actor: str | None = Field(description="The API key's name for a MANUAL decision")
    rule: str | None
    probability: float | None
    match_weight: float | None
    model_version: str | None
    record_version: int
    reason: dict[str, Any] = Field(
        description="Ids, rule names and scores: adjudication ids, Splink, classifier and fused "
        "probabilities, classifier model, guards, a steward's note"
    )
    created_at: dt.datetime


class LinkHistoryRead(BaseModel):
    link_id: int
    items: list[LinkRevisionRead] = Field(description="Oldest first")
