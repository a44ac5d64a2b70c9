"""The api's side of a record's decision: the linker's features and scores over HTTP and the
records of the one patient in the auto tier, for `mpi_linker.decision.decide`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from mpi_api.linker_client import LinkerClient
from mpi_linker.decision import Decision, auto_tier, decide
from mpi_linker.score.schemas import FeaturesResponse, ScoreResponse
from mpi_store.domain.contracts import Demographics
from mpi_store.models import SourceRecord
from mpi_store.repositories import LinkRepository


class LinkerMatcher:
    def __init__(self, client: LinkerClient) -> None:
        self.client = client

    def features(
        self, record: Demographics, events: Iterable[Mapping[str, Any]]
    ) -> FeaturesResponse:
        """The linker's comparison columns, blocking keys and lock keys of a record (the
        api stores them; normalisation and blocking are the linker's)."""
        return self.client.features(demographics=record, events=events)

    def decide(
        self, session: Session, *, record: SourceRecord, features: FeaturesResponse
    ) -> Decision:
        return self.score(session, record=record, features=features)[1]

    def score(
        self, session: Session, *, record: SourceRecord, features: FeaturesResponse
    ) -> tuple[ScoreResponse, Decision]:
        """The linker's scored candidates and the decision they give; writes nothing (a
        record not yet stored has no id to exclude)."""
        scored = self.client.score(
            features=features.features,
            blocking_keys=features.blocking_keys,
            exclude_record_id=record.id,
        )
        # Guards read a patient's records only when exactly one patient is in the auto tier;
        # loading every candidate patient's records would cost a query per candidate.
        auto = {c.golden_record_id for c in auto_tier(scored.candidates)}
        links = LinkRepository(session)
        members = {
            golden_id: [r for r, _ in links.records_of_golden(golden_id)]
            for golden_id in (auto if len(auto) == 1 else ())
        }
        return scored, decide(record, scored, members)
