"""Bodies of the adjudications resource."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from mpi_store.domain.enums import AdjudicationState, Verdict


class RecordKey(BaseModel):
    source: str
    source_record_id: str


class AdjudicationRead(BaseModel):
    """A gray pair: Splink's score, the classifier's, the fused one and the verdict."""

    id: int
    state: AdjudicationState
    record: RecordKey
    candidate: RecordKey
    splink_probability: float
    splink_model: str
    classifier_probability: float | None
    fused_probability: float | None
    verdict: Verdict | None
    classifier_backend: str | None
    classifier_model: str | None
    # Set when the classifier had no comparable clinical events to read; Splink decided alone.
    abstain_reason: str | None
    accept_alone_threshold: float | None
    created_at: dt.datetime
    updated_at: dt.datetime


class AdjudicationPage(BaseModel):
    items: list[AdjudicationRead]
    next_after: int | None
