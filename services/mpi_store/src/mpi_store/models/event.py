"""The ordered, append-only stream of patient and link changes that `GET /events` serves.

Ids and states only, never demographics. `tx_id` is the writing transaction's id: the stream
is read in `(tx_id, id)` order and only up to the oldest transaction still running, so an
event that commits late can never be skipped by a reader that already moved past its id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mpi_store.models.base import Base

# The 64-bit transaction id (epoch-extended, never wraps) as a plain bigint.
CURRENT_TX_ID = text("(pg_current_xact_id()::text)::bigint")


class Event(Base):
    __tablename__ = "event"
    __table_args__ = (Index("ix_event_stream", "tx_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tx_id: Mapped[int] = mapped_column(BigInteger, server_default=CURRENT_TX_ID)
    type: Mapped[str] = mapped_column(String(40))
    mpi_id: Mapped[str] = mapped_column(String(40), index=True)
    source: Mapped[str | None] = mapped_column(String(100))
    source_record_id: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    occurred_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
