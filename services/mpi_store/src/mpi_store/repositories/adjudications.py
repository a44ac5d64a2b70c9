"""Gray-zone pairs awaiting the classifier."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mpi_store.models import Adjudication


class AdjudicationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, **fields: Any) -> Adjudication:
        adjudication = Adjudication(state="pending", **fields)
        self.session.add(adjudication)
        self.session.flush()
        return adjudication

    def for_record(self, record_id: int) -> list[Adjudication]:
        return list(
            self.session.scalars(
                select(Adjudication)
                .where(Adjudication.record_id == record_id)
                .order_by(Adjudication.id)
            )
        )
