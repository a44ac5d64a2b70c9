"""Body of `GET /links/{id}/explanation`: keys, rule names, level labels and scores only."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from mpi_api.adjudications.schemas import RecordKey
from mpi_store.domain.enums import AdjudicationState, LinkSource, LinkState, MatchResult, Verdict


class DecisionRead(BaseModel):
    """One revision of the link: what was decided, by whom or by which rule."""

    decision_id: str
    match_result: MatchResult
    link_source: LinkSource
    link_state: LinkState
    rule: str | None
    actor: str | None = Field(description="The steward's key name for a MANUAL decision")
    note: str | None = Field(description="The steward's reason for a MANUAL decision")
    probability: float | None
    match_weight: float | None
    model_version: str | None
    created_at: dt.datetime


class WaterfallStep(BaseModel):
    comparison: str = Field(description="`prior` first, then Splink's comparisons in order")
    level: int | None = Field(description="Splink's gamma (null for the prior)")
    label: str
    match_weight: float
    cumulative: float = Field(description="The match weight so far; the last is the pair's")


class ThresholdsRead(BaseModel):
    auto: float = Field(description="Link at once at or above this probability")
    reject: float = Field(description="Below this a pair is not gray but a non-match")
    accept_alone: float = Field(description="Link a gray pair on Splink alone (no classifier)")


class PriorRead(BaseModel):
    probability: float = Field(description="Two random records match")
    match_weight: float = Field(description="log2 of the prior odds: the waterfall's start")


class LinkerExplanation(BaseModel):
    """The linker's scoring behind the decision, as stored when it was made."""

    decision_id: str = Field(description="The revision that scored the record")
    rule: str | None
    model_version: str | None
    candidates_found: int
    candidate_cap_hit: bool
    generic_key_kinds: list[str] | None = Field(
        description=(
            "Kinds of the record's blocking keys left out of its search as generic (more than "
            "200 stored records share each; never their values): a record only such a key "
            "would find was not compared. Null where not recorded (a bulk load)."
        )
    )
    guards: list[str]
    candidate: RecordKey | None = Field(description="The best-scoring candidate record")
    candidate_mpi_id: str | None = Field(description="Its patient at the time")
    blocking_key_kinds: list[str] | None = Field(
        description="Kinds of blocking key it shared (never values); null when not stored "
        "(a bulk load's batch blocking does not say)"
    )
    probability: float | None = Field(description="The best candidate's Splink probability")
    match_weight: float | None
    prior: PriorRead | None
    thresholds: ThresholdsRead | None
    waterfall: list[WaterfallStep] | None
    waterfall_unavailable: str | None = Field(
        description="Why `waterfall` is null: no candidate, or decided before per-comparison "
        "weights were stored"
    )


class FusionRead(BaseModel):
    weight: float
    threshold: float
    training_prior: float


class PairExplanation(BaseModel):
    """A gray pair and what the classifier made of it."""

    adjudication_id: int
    candidate: RecordKey
    candidate_mpi_id: str = Field(description="The patient the candidate record is on now")
    state: AdjudicationState
    splink_probability: float
    classifier_probability: float | None
    backend: str | None
    classifier_model: str | None
    abstain_reason: str | None
    fused_probability: float | None
    verdict: Verdict | None
    review_reasons: list[str] | None
    fusion: FusionRead | None = Field(
        description="The fusion applied, as stored with the verdict's link change; null when "
        "Splink decided alone or the verdict changed no link"
    )


class LinkExplanationRead(BaseModel):
    """Why the link is what it is now."""

    link_id: int
    version: int
    record: RecordKey
    mpi_id: str
    decision: DecisionRead = Field(description="The decision in force")
    replaced: DecisionRead | None = Field(
        description="For a MANUAL decision: the automatic one it replaced, if any"
    )
    linker: LinkerExplanation | None = Field(
        description="The linker's scoring behind the decision; null for a record never scored"
    )
    pairs: list[PairExplanation]
