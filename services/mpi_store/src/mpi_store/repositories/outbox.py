"""The transactional outbox: work for other processes, committed with the decision."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

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
