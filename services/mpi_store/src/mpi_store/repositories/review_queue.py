"""The stewards' review queue: links filtered and ordered by age or risk, with their gray
pairs; record keys, ids and scores only, never demographics."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.orm import Session, aliased

from mpi_store.models import Adjudication, GoldenRecord, Link, LinkHistory, SourceRecord


class QueueSort(StrEnum):
    # Longest untouched first (the link's last decision).
    AGE = "age"
    # Most uncertain first: the best fused (else Splink) probability closest to 0.5.
    RISK = "risk"


@dataclass(frozen=True)
class QueueFilters:
    link_id: int | None = None
    match_result: str | None = None
    link_source: str | None = None
    link_state: str | None = None
    source: str | None = None
    golden_record_id: int | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    # True: only MANUAL decisions automation disagrees with; False: none of them.
    disputed: bool | None = None


@dataclass(frozen=True)
class QueueRow:
    link: Link
    source: str
    source_record_id: str
    mpi_id: str
    # The current decision's reason (rule, guards): ids, rule names and scores only.
    reason: dict[str, Any]
    # The sort key of this row, for the next page's cursor.
    sort_key: Any


@dataclass(frozen=True)
class PairRow:
    adjudication: Adjudication
    candidate_source: str
    candidate_source_record_id: str
    candidate_mpi_id: str


def _risk(link: type[Link]) -> ColumnElement[float]:
    best_fused = (
        select(func.max(Adjudication.fused_probability))
        .where(Adjudication.record_id == link.record_id)
        .scalar_subquery()
    )
    return func.abs(func.coalesce(best_fused, link.probability, 0.0) - 0.5)


class ReviewQueueRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def page(
        self,
        filters: QueueFilters,
        *,
        sort: QueueSort,
        after: tuple[Any, int] | None,
        limit: int,
    ) -> list[QueueRow]:
        key: ColumnElement[Any] = (
            Link.updated_at.expression if sort is QueueSort.AGE else _risk(Link)
        )
        query: Select[Any] = (
            select(
                Link,
                SourceRecord.source,
                SourceRecord.source_record_id,
                GoldenRecord.mpi_id,
                LinkHistory.reason,
                key.label("sort_key"),
            )
            .join(SourceRecord, SourceRecord.id == Link.record_id)
            .join(GoldenRecord, GoldenRecord.id == Link.golden_record_id)
            .outerjoin(LinkHistory, LinkHistory.decision_id == Link.decision_id)
        )
        for column, value in (
            (Link.id, filters.link_id),
            (Link.match_result, filters.match_result),
            (Link.link_source, filters.link_source),
            (Link.link_state, filters.link_state),
            (SourceRecord.source, filters.source),
            (Link.golden_record_id, filters.golden_record_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if filters.created_after is not None:
            query = query.where(Link.created_at >= filters.created_after)
        if filters.created_before is not None:
            query = query.where(Link.created_at < filters.created_before)
        if filters.disputed is not None:
            query = query.where(
                Link.disputed.is_not(None) if filters.disputed else Link.disputed.is_(None)
            )
        if after is not None:
            query = query.where(tuple_(key, Link.id) > tuple_(*after))
        rows = self.session.execute(query.order_by(key, Link.id).limit(limit))
        return [
            QueueRow(link, source, record_id, mpi_id, reason or {}, sort_key)
            for link, source, record_id, mpi_id, reason, sort_key in rows
        ]

    def pairs(self, record_ids: list[int]) -> dict[int, list[PairRow]]:
        """Each record's gray pairs, with the candidate's key and the patient it is on now."""
        candidate = aliased(SourceRecord)
        candidate_link = aliased(Link)
        rows = self.session.execute(
            select(Adjudication, candidate.source, candidate.source_record_id, GoldenRecord.mpi_id)
            .join(candidate, candidate.id == Adjudication.candidate_record_id)
            .join(candidate_link, candidate_link.record_id == candidate.id)
            .join(GoldenRecord, GoldenRecord.id == candidate_link.golden_record_id)
            .where(Adjudication.record_id.in_(record_ids))
            .order_by(Adjudication.id)
        )
        found: defaultdict[int, list[PairRow]] = defaultdict(list)
        for adjudication, source, record_id, mpi_id in rows:
            found[adjudication.record_id].append(PairRow(adjudication, source, record_id, mpi_id))
        return found
