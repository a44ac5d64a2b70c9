"""Request and response bodies of `POST /score` and `GET /model`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
    match_weight: float


class CandidateScore(BaseModel):
    record_id: int
    golden_record_id: int
    mpi_id: str
    match_probability: float
    match_weight: float
    tier: str
    comparisons: dict[str, ComparisonRead]


class ScoreResponse(BaseModel):
    model_version: str
    auto_threshold: float
    reject_threshold: float
    accept_alone_threshold: float
    candidates_found: int
    capped: bool
    candidates: list[CandidateScore]


class ModelRead(BaseModel):
    version: str
    auto_threshold: float
    reject_threshold: float
    accept_alone_threshold: float
    comparisons: list[str]
    card: dict[str, Any]
