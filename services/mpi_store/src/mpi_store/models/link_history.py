"""Append-only audit of every link change, with the reason for the decision."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, DateTime, Double, ForeignKey, String, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mpi_store.models.base import Base


class LinkHistory(Base):
    __tablename__ = "link_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    decision_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"), index=True)
    record_version: Mapped[int]
    golden_record_id: Mapped[int] = mapped_column(ForeignKey("golden_record.id"), index=True)
    previous_golden_record_id: Mapped[int | None] = mapped_column(ForeignKey("golden_record.id"))
    match_result: Mapped[str] = mapped_column(String(20))
    link_source: Mapped[str] = mapped_column(String(10))
    link_state: Mapped[str] = mapped_column(String(12))
    probability: Mapped[float | None] = mapped_column(Double)
    match_weight: Mapped[float | None] = mapped_column(Double)
    model_version: Mapped[str | None] = mapped_column(String(100))
    # Who decided: the API key's name for a steward's (MANUAL) decision; None for automation.
    actor: Mapped[str | None] = mapped_column(String(200))
    # Ids, rule names and scores only: never demographic values.
    reason: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
