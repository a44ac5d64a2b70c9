"""The api's side of a record's decision: the linker's features and scores over HTTP (one call
before the locks, a second only when a record arrived meanwhile) and the records of the one
patient in the auto tier, for `mpi_linker.decision.decide`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from mpi_api.linker_client import LinkerClient
from mpi_linker.decision import Decision, auto_tier, decide
from mpi_linker.score.schemas import FeaturesAndScoreResponse, ScoreResponse
from mpi_store.domain.contracts import Demographics
from mpi_store.models import SourceRecord
from mpi_store.repositories import LinkerIndexRepository, LinkRepository


@dataclass(frozen=True)
class FirstLook:
    """The linker's answer for a record read before its writer took the locks: features, keys
    and scored candidates, with the record's id as stored then (`excluded`). `current`: still
    the record the transaction now holds (`under_locks`)."""

    answer: FeaturesAndScoreResponse
    excluded: int | None
    current: bool = True

    def under_locks(self, stored_as: int | None) -> FirstLook:
        """This look as of the locked read of the record (`stored_as`: its id then)."""
        return replace(self, current=self.current and stored_as == self.excluded)


class LinkerMatcher:
    def __init__(self, client: LinkerClient) -> None:
        self.client = client

    def first_look(
        self, record: Demographics, events: Iterable[Mapping[str, Any]], *, stored_as: int | None
    ) -> FirstLook:
        """Features, keys and scored candidates in one call, before anything is locked."""
        answer = self.client.features_and_score(
            demographics=record, events=events, exclude_record_id=stored_as
        )
        return FirstLook(answer, stored_as)

    def decide(self, session: Session, *, record: SourceRecord, first: FirstLook) -> Decision:
        return self.score(session, record=record, first=first)[1]

    def score(
        self, session: Session, *, record: SourceRecord, first: FirstLook
    ) -> tuple[ScoreResponse, Decision]:
        """The scored candidates and the decision they give, under the transaction's locks:
        the first look's, unless the record was stored meanwhile or a record it lacks is now
        indexed under a lock key it searched; then the linker scores it again. A record not
        stored (a `$match` query, which locks nothing) takes the first look. Writes nothing."""
        scored = first.answer.score
        if record.id is not None and (
            not first.current
            or LinkerIndexRepository(session).holds_others(
                first.answer.searched_lock_keys,
                besides={record.id, *(c.record_id for c in scored.candidates)},
            )
        ):
            scored = self.client.score(
                features=first.answer.features,
                blocking_keys=first.answer.blocking_keys,
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
