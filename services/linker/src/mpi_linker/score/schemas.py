"""Request and response bodies of `POST /features`, `POST /score` and `GET /model`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mpi_linker.model.artifact import Tier
from mpi_store.domain.contracts import MAX_EVENTS_PER_LIST, Code, Demographics

# Seven lists in a record's `clinical`, each of at most MAX_EVENTS_PER_LIST events.
MAX_EVENT_CODES = 7 * MAX_EVENTS_PER_LIST


class EventCode(BaseModel):
    """A clinical event as the history keys read it: its type and coded concept."""

    model_config = ConfigDict(extra="forbid")

    type: Code
    code_system: Code | None = None
    code: Code


class FeaturesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    demographics: Demographics
    events: list[EventCode] = Field(
        default_factory=list,
        max_length=MAX_EVENT_CODES,
        description="The record's distinct coded events (duplicates add nothing)",
    )


class FeaturesResponse(BaseModel):
    features: dict[str, Any] = Field(description="Pass to `POST /score` as they are")
    blocking_keys: list[str]
    lock_keys: list[str] = Field(
        description="The blocking keys its writer holds an advisory lock on while it decides"
    )


class FeaturesAndScoreRequest(FeaturesRequest):
    exclude_record_id: int | None = Field(
        default=None, description="The record itself, if it is stored already (an update)."
    )


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: dict[str, Any] = Field(description="mpi_linker.features.features(record)")
    blocking_keys: list[str] = Field(max_length=200)
    exclude_record_id: int | None = Field(
        default=None, description="The record itself, if the caller has already stored it."
    )


class ComparisonRead(BaseModel):
    level: int
    label: str
    match_weight: float = Field(description="With the term-frequency adjustment, if any")


class CandidateScore(BaseModel):
    record_id: int
    golden_record_id: int
    mpi_id: str
    match_probability: float
    match_weight: float
    tier: Tier
    comparisons: dict[str, ComparisonRead] = Field(
        description=(
            "In the model's order: the prior plus these weights is `match_weight`. Empty for "
            "a candidate in the reject tier other than the best: no decision reads those."
        )
    )
    blocking_key_kinds: list[str] | None = Field(
        description=(
            "Kinds of the blocking keys it shares with the record (never their values); null "
            "from a bulk load, whose batch blocking does not say which key found a pair"
        )
    )


class ScoreResponse(BaseModel):
    model_version: str
    auto_threshold: float
    reject_threshold: float
    accept_alone_threshold: float
    prior_probability: float = Field(description="Splink's λ: two random records match")
    prior_match_weight: float = Field(description="log2 of the prior odds")
    candidates_found: int
    capped: bool
    generic_key_kinds: list[str] | None = Field(
        description=(
            "Kinds of the record's blocking keys (one entry per key, never its value) left out "
            "of the search: more than `MAX_BLOCK_SIZE` records would share each. Null from a "
            "bulk load, which leaves out the same blocks but not record by record."
        )
    )
    candidates: list[CandidateScore]


class ModelRead(BaseModel):
    version: str
    auto_threshold: float
    reject_threshold: float
    accept_alone_threshold: float
    comparisons: list[str]
    card: dict[str, Any]


class FeaturesAndScoreResponse(FeaturesResponse):
    """`POST /features` and `POST /score` of a record in one answer, read before its writer
    locked and stored it."""

    score: ScoreResponse
    searched_lock_keys: list[str] = Field(
        description="The lock keys the candidates were drawn from (not generic): a record the "
        "candidates lack under one of them arrived after this answer, so the writer, once it "
        "holds the locks, scores the record again (`POST /score`)"
    )
