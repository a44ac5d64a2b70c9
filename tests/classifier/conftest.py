"""Classifier test fixtures: settings, a fixed-answer backend, and the rows the api writes for
gray pairs."""

from __future__ import annotations

import json

import pytest

from mpi_classifier.settings import Settings


@pytest.fixture
def classifier_settings(database_url: str, redis_url: str, queue: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        queue=queue,
        backend="overlap",
        relay_poll_seconds=0.05,
        relay_backoff_max_seconds=0.5,
    )


class FixedClassifier:
    """A backend that answers one probability (or fails while `down`)."""

    name = "fixed"
    model_id = "fixed-1"

    def __init__(self, probability: float, *, threshold: float = 0.5) -> None:
        from mpi_classifier.fusion import Fusion

        self.probability = probability
        self.fusion = Fusion(weight=1.0, threshold=threshold, training_prior=0.5)
        self.down = False
        self.calls = 0

    def classify(self, pairs):
        from mpi_store.domain.errors import ClassifierUnavailable

        self.calls += 1
        if self.down:
            raise ClassifierUnavailable("backend down")
        return [self.probability] * len(pairs)


@pytest.fixture
def fixed_classifier() -> type[FixedClassifier]:
    return FixedClassifier


# A history the classifier can read (so it does not abstain); `clinical=None` gives none.
SOME_HISTORY = {
    "conditions": [
        {"code_system": "SNOMED", "code": "44054006", "display": "Diabetes", "onset": "2015-06-01"}
    ]
}


class Store:
    """Builds what the api writes for a gray pair: records, golden records, links, an
    adjudication per pair and one outbox row."""

    def __init__(self, session) -> None:
        self.session = session
        self.counter = 0

    def record(self, *, source: str = "FAC1", clinical=SOME_HISTORY, link=None, **demographics):
        from mpi_api.records.service import event_rows, record_row
        from mpi_linker.features import record_features
        from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS, RecordCreate
        from mpi_store.domain.enums import LinkSource, LinkState, MatchResult
        from mpi_store.repositories import (
            GoldenRecordRepository,
            LinkRepository,
            SourceRecordRepository,
        )

        self.counter += 1
        contract = RecordCreate(
            source=source,
            source_record_id=f"R{self.counter}",
            clinical=clinical,
            **demographics,
        )
        records = SourceRecordRepository(self.session)
        made = record_features(contract.model_dump(include=set(DEMOGRAPHIC_FIELDS)))
        stored = records.add(record_row(contract, made.features))
        records.replace_events(stored.id, event_rows(contract))
        golden = (
            GoldenRecordRepository(self.session).create()
            if link is None or link.get("golden") is None
            else link["golden"]
        )
        options = {
            "match_result": MatchResult.MATCH,
            "link_source": LinkSource.AUTO,
            "link_state": LinkState.FINAL,
            **(link or {}),
        }
        options.pop("golden", None)
        LinkRepository(self.session).create(
            record=stored,
            golden_record_id=golden.id,
            probability=0.99,
            match_weight=10.0,
            model_version="splink-test",
            reason={"rule": "test"},
            **options,
        )
        self.session.flush()
        return stored, golden

    def gray_record(
        self,
        candidates,
        *,
        probability: float = 0.3,
        accept_alone: float = 0.5,
        comparison_weights=None,
        **fields,
    ):
        """A new record the api put on its own provisional golden record, with one pending
        adjudication per candidate record and one outbox row."""
        from mpi_store.domain.enums import LinkState, MatchResult, OutboxTopic
        from mpi_store.repositories import (
            AdjudicationRepository,
            LinkRepository,
            NewAdjudication,
            OutboxRepository,
        )

        record, golden = self.record(
            link={
                "match_result": MatchResult.POSSIBLE_MATCH,
                "link_state": LinkState.PROVISIONAL,
                **fields.pop("link", {}),
            },
            **fields,
        )
        links = LinkRepository(self.session)
        repository = AdjudicationRepository(self.session)
        ids = repository.add_many(
            [
                NewAdjudication(
                    record_id=record.id,
                    candidate_record_id=candidate.id,
                    candidate_golden_record_id=links.get_for_record(candidate.id).golden_record_id,
                    probability=probability,
                    match_weight=0.0,
                    comparison_weights=json.dumps(comparison_weights or {}),
                    model_version="splink-test",
                    accept_alone_threshold=accept_alone,
                )
                for candidate in candidates
            ]
        )
        adjudications = [repository.get(i) for i in ids]
        OutboxRepository(self.session).add(
            OutboxTopic.ADJUDICATION_REQUESTED,
            {"record_id": record.id, "adjudication_ids": [a.id for a in adjudications]},
        )
        self.session.flush()
        return record, golden, adjudications


@pytest.fixture
def store(session) -> Store:
    return Store(session)


@pytest.fixture
def store_on() -> type[Store]:
    """`Store` for sessions the test commits itself."""
    return Store
