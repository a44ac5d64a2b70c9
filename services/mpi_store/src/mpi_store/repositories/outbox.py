"""The transactional outbox: work for other processes, committed with the decision."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mpi_store.bulk_writes import copy_rows
from mpi_store.models import Outbox


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, topic: str, payload: dict[str, Any]) -> Outbox:
        """Payloads carry ids only: they travel through the broker."""
        row = Outbox(topic=topic, payload=payload)
        self.session.add(row)
        self.session.flush()
        return row

    def add_many(self, topic: str, payloads: Iterable[dict[str, Any]]) -> None:
        """`add` for many rows of one topic, by COPY (a bulk load's requests)."""
        copy_rows(
            self.session,
            Outbox,
            ("topic", "payload"),
            ((topic, json.dumps(payload)) for payload in payloads),
        )

    def claim_pending(self, topics: Sequence[str], *, limit: int) -> list[Outbox]:
        """The oldest undispatched rows, locked until this transaction ends; rows another
        relay holds are skipped, so several relays never publish the same row at once."""
        return list(
            self.session.scalars(
                select(Outbox)
                .where(Outbox.dispatched_at.is_(None), Outbox.topic.in_(list(topics)))
                .order_by(Outbox.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )

    def mark_dispatched(self, ids: Sequence[int]) -> None:
        if ids:
            self.session.execute(
                update(Outbox).where(Outbox.id.in_(list(ids))).values(dispatched_at=func.now())
            )

    def pending_count(self) -> int:
        return int(
            self.session.scalar(
                select(func.count()).select_from(Outbox).where(Outbox.dispatched_at.is_(None))
            )
            or 0
        )
