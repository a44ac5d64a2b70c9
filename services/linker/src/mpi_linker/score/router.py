"""`POST /features`, `POST /score`, `POST /features/score`, `GET /model`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from mpi_linker.features import record_features
from mpi_linker.score import service
from mpi_linker.score.schemas import (
    FeaturesAndScoreRequest,
    FeaturesAndScoreResponse,
    FeaturesRequest,
    FeaturesResponse,
    ModelRead,
    ScoreRequest,
    ScoreResponse,
)
from mpi_linker.scoring import Scorer

router = APIRouter(tags=["scoring"])


def _session(request: Request) -> Iterator[Session]:
    # Read-only: nothing to commit; the session is closed (and rolled back) after the request.
    with request.app.state.session_factory() as session:
        yield session


@router.post("/features", operation_id="record_features")
def features_of_record(body: FeaturesRequest) -> FeaturesResponse:
    """The record's comparison columns, blocking keys and lock keys; reads and writes nothing.

    The api stores them in the candidate index and sends them back to `POST /score`, so a
    change of normalisation or blocking deploys with the linker alone.
    """
    made = record_features(
        body.demographics.model_dump(), [event.model_dump() for event in body.events]
    )
    return FeaturesResponse(
        features=made.features, blocking_keys=made.blocking_keys, lock_keys=made.lock_keys
    )


@router.post("/score", operation_id="score_record")
def score_record(
    body: ScoreRequest, request: Request, session: Annotated[Session, Depends(_session)]
) -> ScoreResponse:
    """Score a record against the indexed records that share a blocking key with it."""
    return _score(
        request, session, body.features, body.blocking_keys, body.exclude_record_id
    ).response


@router.post("/features/score", operation_id="score_record_features")
def score_record_features(
    body: FeaturesAndScoreRequest,
    request: Request,
    session: Annotated[Session, Depends(_session)],
) -> FeaturesAndScoreResponse:
    """`POST /features` then `POST /score` in one call: what a writer needs before it locks and
    stores a record, and the candidates it decides on unless a record arrived meanwhile."""
    made = record_features(
        body.demographics.model_dump(), [event.model_dump() for event in body.events]
    )
    scored = _score(request, session, made.features, made.blocking_keys, body.exclude_record_id)
    generic = set(scored.generic_keys)
    return FeaturesAndScoreResponse(
        features=made.features,
        blocking_keys=made.blocking_keys,
        lock_keys=made.lock_keys,
        score=scored.response,
        searched_lock_keys=[key for key in made.lock_keys if key not in generic],
    )


def _score(
    request: Request,
    session: Session,
    features: dict[str, Any],
    blocking_keys: list[str],
    exclude_record_id: int | None,
) -> service.Scored:
    started = time.perf_counter()
    scored = service.score_record(
        session,
        scorer=request.app.state.scorer,
        features=features,
        blocking_keys=blocking_keys,
        exclude_record_id=exclude_record_id,
        max_candidates=request.app.state.settings.max_candidates,
        frequencies=request.app.state.frequencies,
    )
    metrics = request.app.state.metrics
    metrics.candidates.observe(scored.response.candidates_found)
    if scored.capped:
        metrics.capped.inc()
    for kind in scored.response.generic_key_kinds or []:
        metrics.generic_keys.labels(rule=kind).inc()
    metrics.latency.observe(time.perf_counter() - started)
    return scored


@router.get("/model", operation_id="read_model")
def read_model(request: Request) -> ModelRead:
    """The warm model: version, thresholds, compared fields and its model card."""
    scorer: Scorer = request.app.state.scorer
    artifact = scorer.artifact
    return ModelRead(
        version=artifact.version,
        auto_threshold=artifact.thresholds.auto,
        reject_threshold=artifact.thresholds.reject,
        accept_alone_threshold=artifact.thresholds.accept_alone,
        comparisons=[c["output_column_name"] for c in artifact.splink["comparisons"]],
        card=artifact.card,
    )
