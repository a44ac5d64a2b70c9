"""Gray-zone pairs awaiting the classifier, and their decisions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from mpi_store.bulk_writes import copy_rows, reserve_ids
from mpi_store.domain.enums import AdjudicationState
from mpi_store.models import Adjudication


@dataclass(frozen=True, slots=True)
class NewAdjudication:
    """A gray pair `AdjudicationRepository.add_many` queues (fields named as its columns)."""

    record_id: int
    candidate_record_id: int
    candidate_golden_record_id: int
    probability: float
    match_weight: float
    comparison_weights: str  # JSON text
    model_version: str
    accept_alone_threshold: float | None


_PAIR_COLUMNS = tuple(f.name for f in fields(NewAdjudication))


def _values(pair: NewAdjudication) -> tuple[Any, ...]:
    return tuple(getattr(pair, name) for name in _PAIR_COLUMNS)


class AdjudicationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, pairs: Sequence[NewAdjudication]) -> list[int]:
        """Queue gray pairs, pending, by COPY: the one way pairs are queued, online and in
        bulk. Their ids, in the same order."""
        ids = reserve_ids(self.session, Adjudication, len(pairs))
        copy_rows(
            self.session,
            Adjudication,
            ("id", *_PAIR_COLUMNS, "state"),
            (
                (adjudication_id, *_values(pair), AdjudicationState.PENDING)
                for adjudication_id, pair in zip(ids, pairs, strict=True)
            ),
        )
        return ids

    def reset(self, adjudication: Adjudication, pair: NewAdjudication) -> None:
        """Ask a decided pair again (a relink under a new model): pending, with `pair`'s
        scores."""
        for name, value in zip(_PAIR_COLUMNS, _values(pair), strict=True):
            setattr(adjudication, name, value)
        adjudication.comparison_weights = json.loads(pair.comparison_weights)
        for name in (
            "classifier_probability",
            "fused_probability",
            "verdict",
            "classifier_backend",
            "classifier_model",
            "abstain_reason",
        ):
            setattr(adjudication, name, None)
        adjudication.state = AdjudicationState.PENDING
        self.session.flush()

    def get(self, adjudication_id: int) -> Adjudication | None:
        return self.session.get(Adjudication, adjudication_id, populate_existing=True)

    def for_record(self, record_id: int) -> list[Adjudication]:
        return list(
            self.session.scalars(
                select(Adjudication)
                .where(Adjudication.record_id == record_id)
                .order_by(Adjudication.id)
                .execution_options(populate_existing=True)
            )
        )

    def between(self, record_ids: Collection[int]) -> list[Adjudication]:
        """Every adjudication whose two records are both among `record_ids`."""
        ids = list(record_ids)
        return list(
            self.session.scalars(
                select(Adjudication)
                .where(Adjudication.record_id.in_(ids), Adjudication.candidate_record_id.in_(ids))
                .order_by(Adjudication.id)
            )
        )

    def by_state(
        self, *, state: str | None, after_id: int = 0, limit: int = 100
    ) -> list[Adjudication]:
        query = select(Adjudication).where(Adjudication.id > after_id)
        if state is not None:
            query = query.where(Adjudication.state == state)
        return list(self.session.scalars(query.order_by(Adjudication.id).limit(limit)))

    def transition(
        self, adjudication_id: int, *, from_state: str, to_state: str, **fields: Any
    ) -> Adjudication | None:
        """Move one adjudication between states if it is still in `from_state`.

        The conditional UPDATE is the claim: of two workers deciding the same adjudication,
        the second waits for the first's row lock, then matches no row.
        """
        claimed = self.session.scalar(
            update(Adjudication)
            .where(Adjudication.id == adjudication_id, Adjudication.state == from_state)
            .values(state=to_state, updated_at=func.now(), **fields)
            .returning(Adjudication.id)
        )
        return None if claimed is None else self.get(adjudication_id)

    def requeue(self, adjudication_id: int, *, stale_before: dt.datetime) -> Adjudication | None:
        """failed → pending, or a pending one untouched since `stale_before` (its worker died
        holding it) → pending again; None if it is neither."""
        requeueable = or_(
            Adjudication.state == AdjudicationState.FAILED,
            and_(
                Adjudication.state == AdjudicationState.PENDING,
                Adjudication.updated_at < stale_before,
            ),
        )
        claimed = self.session.scalar(
            update(Adjudication)
            .where(Adjudication.id == adjudication_id, requeueable)
            .values(state=AdjudicationState.PENDING, updated_at=func.now())
            .returning(Adjudication.id)
        )
        return None if claimed is None else self.get(adjudication_id)

    def requeue_stale(self, *, stale_before: dt.datetime, limit: int) -> list[tuple[int, int]]:
        """`(id, record_id)` of pending ones untouched since `stale_before` (a worker killed
        holding them), touched again so the next sweep leaves them be for another period."""
        stale = (
            select(Adjudication.id)
            .where(
                Adjudication.state == AdjudicationState.PENDING,
                Adjudication.updated_at < stale_before,
            )
            .order_by(Adjudication.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        touched = self.session.execute(
            update(Adjudication)
            .where(Adjudication.id.in_(stale.scalar_subquery()))
            .values(updated_at=func.now())
            .returning(Adjudication.id, Adjudication.record_id)
            .execution_options(synchronize_session=False)
        )
        return sorted((row.id, row.record_id) for row in touched)
