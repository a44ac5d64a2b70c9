"""The `adjudicate(adjudication_id)` task: classify a gray pair, fuse, apply; at least once.

Idempotent: the verdict is written by a conditional UPDATE (pending → done) in the same
transaction as its effects, so a redelivery after a crash either redoes the work (nothing was
committed) or finds the adjudication decided and stops. Backend errors retry with exponential
backoff and jitter; after the last retry the adjudication is marked `failed` (an admin can
requeue it).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mpi_classifier import apply, history
from mpi_classifier.abstention import abstain_reason
from mpi_classifier.backends import Classifier, Pair, make_classifier
from mpi_classifier.settings import Settings
from mpi_classifier.worker import TASK_NAME, app
from mpi_store.db import make_engine, make_sessionmaker, unit_of_work
from mpi_store.domain.enums import AdjudicationState
from mpi_store.domain.errors import ClassifierUnavailable
from mpi_store.domain.evidence import corroborated
from mpi_store.models import Adjudication
from mpi_store.repositories import AdjudicationRepository, SourceRecordRepository
from mpi_store.settings import load_settings

log = logging.getLogger(__name__)

RETRYABLE = (ClassifierUnavailable, OperationalError, SoftTimeLimitExceeded)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    session_factory: sessionmaker[Session]
    classifier: Classifier


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    """Built on a worker process's first task (after the fork): engine and warm model."""
    settings = load_settings(Settings)
    engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
    return Runtime(settings, make_sessionmaker(engine), make_classifier(settings))


def load_pair(session: Session, adjudication_id: int) -> tuple[Adjudication, Pair] | None:
    """The pending adjudication and both records' histories; None if it is not pending."""
    adjudication = AdjudicationRepository(session).get(adjudication_id)
    if adjudication is None or adjudication.state != AdjudicationState.PENDING:
        return None
    records = SourceRecordRepository(session)
    pair = Pair(
        history.from_rows(records.events(adjudication.record_id)),
        history.from_rows(records.events(adjudication.candidate_record_id)),
    )
    return adjudication, pair


def adjudicate_once(
    *, session_factory: sessionmaker[Session], classifier: Classifier, adjudication_id: int
) -> str:
    """One attempt; raises `ClassifierUnavailable` when the backend fails (nothing written)."""
    with session_factory() as session:
        loaded = load_pair(session, adjudication_id)
    if loaded is None:
        return "skipped"
    adjudication, pair = loaded
    reason = abstain_reason(pair)
    if reason is not None:
        scores = _splink_alone(adjudication, classifier, reason)
    else:
        # No transaction is open while the classifier works (it may take seconds on a GPU
        # queue).
        probability = classifier.classify([pair])[0]
        fused = classifier.fusion.fuse(adjudication.probability, probability)
        scores = apply.Scores(
            classifier_probability=probability,
            fused_probability=fused,
            accept=classifier.fusion.accept(fused),
            backend=classifier.name,
            model_id=classifier.model_id,
            fusion=classifier.fusion.to_dict(),
        )
    with unit_of_work(session_factory) as session:
        verdict = apply.decide(session, adjudication_id=adjudication_id, scores=scores)
    return "skipped" if verdict is None else str(verdict)


def _splink_alone(adjudication: Adjudication, classifier: Classifier, reason: str) -> apply.Scores:
    """The documented gray policy without a classifier term: link at or above the linker
    model's accept-alone bound (stored with the pair) when a person-level field agrees beyond
    the names (`mpi_store.domain.evidence`), else no match. A pair stored before the bound existed
    is never linked this way."""
    bound = adjudication.accept_alone_threshold
    return apply.Scores(
        classifier_probability=None,
        fused_probability=adjudication.probability,
        accept=bound is not None
        and adjudication.probability >= bound
        and corroborated(adjudication.comparison_weights),
        backend=classifier.name,
        model_id=classifier.model_id,
        abstain_reason=reason,
    )


def mark_failed(session_factory: sessionmaker[Session], adjudication_id: int) -> bool:
    with unit_of_work(session_factory) as session:
        failed = AdjudicationRepository(session).transition(
            adjudication_id,
            from_state=AdjudicationState.PENDING,
            to_state=AdjudicationState.FAILED,
        )
    return failed is not None


def backoff_seconds(retries: int, *, base: float, cap: float) -> float:
    """Exponential, capped, with jitter (half fixed, half random) so retries spread out."""
    delay = min(cap, base * 2.0**retries)
    return delay / 2 + random.uniform(0, delay / 2)


def _adjudicate(task: Any, adjudication_id: int) -> str:
    current = runtime()
    settings = current.settings
    try:
        outcome = adjudicate_once(
            session_factory=current.session_factory,
            classifier=current.classifier,
            adjudication_id=adjudication_id,
        )
    except RETRYABLE as error:
        retries: int = task.request.retries
        if retries >= settings.max_retries:
            mark_failed(current.session_factory, adjudication_id)
            log.warning("adjudication %s failed after %s retries", adjudication_id, retries)
            return "failed"
        delay = backoff_seconds(
            retries, base=settings.retry_backoff_seconds, cap=settings.retry_backoff_max_seconds
        )
        log.info(
            "adjudication %s: %s; retry %s in %.1f s",
            adjudication_id,
            type(error).__name__,
            retries + 1,
            delay,
        )
        raise task.retry(exc=error, countdown=delay) from error
    log.info("adjudication %s: %s", adjudication_id, outcome)
    return outcome


# Not a decorator: Celery is untyped, and the call keeps mypy's strict mode meaningful here.
adjudicate = app.task(name=TASK_NAME, bind=True, max_retries=None)(_adjudicate)
