"""The api's side of a record's decision: the linker's scores over HTTP and the records of
the one patient in the auto tier, for `mpi_linker.decision.decide`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mpi_api.linker_client import LinkerClient
from mpi_linker.decision import Decision, auto_tier, decide
from mpi_linker.score.schemas import ScoreResponse
from mpi_store.models import SourceRecord
from mpi_store.repositories import LinkRepository


class LinkerMatcher:
    def __init__(self, client: LinkerClient) -> None:
        self.client = client

    def decide(
        self,
        session: Session,
        *,
        record: SourceRecord,
        features: dict[str, Any],
        blocking_keys: list[str],
    ) -> Decision:
        return self.score(session, record=record, features=features, blocking_keys=blocking_keys)[1]

    def score(
        self,
        session: Session,
        *,
        record: SourceRecord,
        features: dict[str, Any],
        blocking_keys: list[str],
    ) -> tuple[ScoreResponse, Decision]:
        """The linker's scored candidates and the decision they give; writes nothing (a
        record not yet stored has no id to exclude)."""
        scored = self.client.score(
            features=features, blocking_keys=blocking_keys, exclude_record_id=record.id
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
