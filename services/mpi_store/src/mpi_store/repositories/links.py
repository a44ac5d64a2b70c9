"""Current links of source records and their append-only history."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from mpi_store.bulk_writes import copy_rows
from mpi_store.domain.enums import EventType, LinkSource
from mpi_store.models import GoldenRecord, Link, LinkHistory, SourceRecord
from mpi_store.repositories.events import EventRepository, NewEvent

# Decisions `create_many` writes per round of COPYs (links, history, events): what it holds.
_CHUNK = 10_000
_DECISION_COLUMNS = (
    "record_id",
    "golden_record_id",
    "match_result",
    "link_source",
    "link_state",
    "probability",
    "match_weight",
    "model_version",
    "decision_id",
)


@dataclass(frozen=True, slots=True)
class NewLink:
    """A stored record's first decision, as `LinkRepository.create_many` writes it."""

    record_id: int
    record_version: int
    source: str
    source_record_id: str
    golden_record_id: int
    mpi_id: str
    match_result: str
    link_source: str
    link_state: str
    probability: float | None
    match_weight: float | None
    model_version: str | None
    reason: str  # JSON text


class LinkRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, link_id: int) -> Link | None:
        return self.session.get(Link, link_id, populate_existing=True)

    def get_for_record(self, record_id: int) -> Link | None:
        return self.session.scalar(select(Link).where(Link.record_id == record_id))

    def create(
        self,
        *,
        record: SourceRecord,
        golden_record_id: int,
        match_result: str,
        link_source: str,
        link_state: str,
        probability: float | None,
        match_weight: float | None,
        model_version: str | None,
        reason: dict[str, Any],
    ) -> Link:
        """Link a record that has no link yet (`create_many` of one)."""
        self.create_many(
            [
                NewLink(
                    record_id=record.id,
                    record_version=record.version,
                    source=record.source,
                    source_record_id=record.source_record_id,
                    golden_record_id=golden_record_id,
                    mpi_id=self.session.get_one(GoldenRecord, golden_record_id).mpi_id,
                    match_result=match_result,
                    link_source=link_source,
                    link_state=link_state,
                    probability=probability,
                    match_weight=match_weight,
                    model_version=model_version,
                    reason=json.dumps(reason),
                )
            ]
        )
        link = self.get_for_record(record.id)
        if link is None:
            raise RuntimeError(f"the link of source record {record.id} was not written")
        return link

    def create_many(self, links: Iterable[NewLink]) -> None:
        """Link records that have no link yet: each link at version 1 with a new decision id,
        its history row and its `link.created` event, by COPY: the one way a first decision
        is written, online and in bulk."""
        self.session.flush()  # the records linked, written before their links
        events = EventRepository(self.session)
        source = iter(links)
        while chunk := list(itertools.islice(source, _CHUNK)):
            decisions = [(new, uuid.uuid4()) for new in chunk]
            copy_rows(
                self.session,
                Link,
                (*_DECISION_COLUMNS, "version"),
                ((*_decision(new, decision_id), 1) for new, decision_id in decisions),
            )
            copy_rows(
                self.session,
                LinkHistory,
                (*_DECISION_COLUMNS, "record_version", "reason"),
                (
                    (*_decision(new, decision_id), new.record_version, new.reason)
                    for new, decision_id in decisions
                ),
            )
            events.append_many(
                NewEvent(
                    EventType.LINK_CREATED,
                    new.mpi_id,
                    {
                        "match_result": new.match_result,
                        "link_source": new.link_source,
                        "link_state": new.link_state,
                        "decision_id": str(decision_id),
                    },
                    source=new.source,
                    source_record_id=new.source_record_id,
                )
                for new, decision_id in decisions
            )

    def records_of_golden(self, golden_record_id: int) -> list[tuple[SourceRecord, Link]]:
        rows = self.session.execute(
            select(SourceRecord, Link)
            .join(Link, Link.record_id == SourceRecord.id)
            .where(Link.golden_record_id == golden_record_id)
            .order_by(SourceRecord.source, SourceRecord.source_record_id)
        )
        return [(record, link) for record, link in rows]

    def clusters(self) -> list[dict[str, Any]]:
        """Every record with the patient it is linked to now (for evaluation and export)."""
        rows = self.session.execute(
            select(
                SourceRecord.source,
                SourceRecord.source_record_id,
                GoldenRecord.mpi_id,
                Link.link_source,
                Link.match_result,
                Link.link_state,
            )
            .join(Link, Link.record_id == SourceRecord.id)
            .join(GoldenRecord, GoldenRecord.id == Link.golden_record_id)
            .order_by(SourceRecord.id)
        )
        return [dict(row._mapping) for row in rows]

    def change_if_different(
        self,
        link: Link,
        *,
        golden_record_id: int,
        match_result: str,
        link_source: str,
        link_state: str,
        probability: float | None,
        reason: dict[str, Any],
        model_version: str | None = None,
        match_weight: float | None = None,
    ) -> bool:
        """`change` the link unless the re-decision keeps its patient, result, source, state
        and probability: one that keeps them all writes nothing (no new decision id, history
        row or event). Whether it changed."""
        kept = (
            link.golden_record_id,
            link.match_result,
            link.link_source,
            link.link_state,
            link.probability,
        ) == (golden_record_id, match_result, link_source, link_state, probability)
        if not kept:
            self.change(
                link,
                golden_record_id=golden_record_id,
                match_result=match_result,
                link_source=link_source,
                link_state=link_state,
                probability=probability,
                reason=reason,
                model_version=model_version,
                match_weight=match_weight,
            )
        return not kept

    def change(
        self,
        link: Link,
        *,
        golden_record_id: int,
        match_result: str,
        link_source: str,
        link_state: str,
        probability: float | None,
        reason: dict[str, Any],
        model_version: str | None = None,
        match_weight: float | None = None,
        actor: str | None = None,
        kept_apart_from: list[int] | None = None,
    ) -> Link:
        """Re-decide an existing link (a new decision id, the version bumped) and append the
        decision to history with the golden record it leaves. A new linker model's decision
        also sets `model_version` and `match_weight`; other decisions keep them. A steward's
        decision names its `actor` and sets `kept_apart_from` (its NO_MATCH) or clears it."""
        record = self.session.get_one(SourceRecord, link.record_id)
        previous = link.golden_record_id
        link.golden_record_id = golden_record_id
        link.match_result = match_result
        link.link_source = link_source
        link.link_state = link_state
        link.probability = probability
        if model_version is not None:
            link.model_version = model_version
            link.match_weight = match_weight
        if kept_apart_from is not None:
            link.kept_apart_from = kept_apart_from
        if actor is not None and link.disputed is not None:
            reason = {**reason, "settled_dispute": link.disputed}
            link.disputed = None
        link.decision_id = uuid.uuid4()
        link.version += 1
        self.session.add(
            LinkHistory(
                actor=actor,
                decision_id=link.decision_id,
                record_id=record.id,
                record_version=record.version,
                golden_record_id=golden_record_id,
                previous_golden_record_id=previous if previous != golden_record_id else None,
                match_result=match_result,
                link_source=link_source,
                link_state=link_state,
                probability=probability,
                match_weight=link.match_weight,
                model_version=link.model_version,
                reason=reason,
            )
        )
        self.session.flush()
        self._event(
            EventType.LINK_UPDATED,
            link,
            record,
            previous_mpi_id=(
                self.session.get_one(GoldenRecord, previous).mpi_id
                if previous != golden_record_id
                else None
            ),
            actor=actor,
        )
        return link

    def dispute(
        self, link: Link, *, by: str, proposal: str, mpi_ids: list[str], **detail: Any
    ) -> bool:
        """Put a MANUAL decision automation disagrees with in the stewards' queue, the decision
        itself unchanged: `by` (`relink`, `classifier`) would `join` the record with the patients
        `mpi_ids` or `separate` it from its own. The version is bumped (a steward deciding on
        what they read before gets `409`); the same dispute again changes nothing. Returns
        whether the link changed."""
        dispute = {"by": by, "proposal": proposal, "mpi_ids": mpi_ids, **detail}
        if (
            link.disputed is not None
            and {k: v for k, v in link.disputed.items() if k != "at"} == dispute
        ):
            return False
        link.disputed = {**dispute, "at": dt.datetime.now(dt.UTC).isoformat()}
        link.version += 1
        self.session.flush()
        return True

    def _event(self, event_type: EventType, link: Link, record: SourceRecord, **extra: Any) -> None:
        EventRepository(self.session).append(
            event_type,
            self.session.get_one(GoldenRecord, link.golden_record_id),
            record=record,
            match_result=link.match_result,
            link_source=link.link_source,
            link_state=link.link_state,
            decision_id=str(link.decision_id),
            **extra,
        )

    def history(self, record_id: int) -> list[LinkHistory]:
        return list(
            self.session.scalars(
                select(LinkHistory)
                .where(LinkHistory.record_id == record_id)
                .order_by(LinkHistory.id)
            )
        )

    def manual_revisions(self) -> list[LinkHistory]:
        """Every MANUAL revision of any link (steward decisions, merges, splits), oldest first."""
        return list(
            self.session.scalars(
                select(LinkHistory)
                .where(LinkHistory.link_source == LinkSource.MANUAL)
                .order_by(LinkHistory.id)
            )
        )

    def records_on_before(self, golden_ids: Collection[int], *, before_id: int) -> list[int]:
        """The records that were on one of `golden_ids` just before history row `before_id`
        (each record's latest revision before it), by id."""
        if not golden_ids:
            return []
        ever_there = select(LinkHistory.record_id).where(
            LinkHistory.golden_record_id.in_(list(golden_ids)), LinkHistory.id < before_id
        )
        latest = (
            select(LinkHistory.record_id, LinkHistory.golden_record_id)
            .where(LinkHistory.record_id.in_(ever_there), LinkHistory.id < before_id)
            .ext(distinct_on(LinkHistory.record_id))
            .order_by(LinkHistory.record_id, LinkHistory.id.desc())
            .subquery()
        )
        return list(
            self.session.scalars(
                select(latest.c.record_id)
                .where(latest.c.golden_record_id.in_(list(golden_ids)))
                .order_by(latest.c.record_id)
            )
        )


def _decision(new: NewLink, decision_id: uuid.UUID) -> tuple[Any, ...]:
    """The columns a link and its history row share (`_DECISION_COLUMNS`)."""
    return (
        new.record_id,
        new.golden_record_id,
        new.match_result,
        new.link_source,
        new.link_state,
        new.probability,
        new.match_weight,
        new.model_version,
        decision_id,
    )
