"""One clinical fact of a source record (condition, medication, observation, ...)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, Double, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mpi_store.models.base import Base


class ClinicalEvent(Base):
    __tablename__ = "clinical_event"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("source_record.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(20))
    code_system: Mapped[str | None] = mapped_column(String(100))
    code: Mapped[str | None] = mapped_column(String(100))
    display: Mapped[str | None] = mapped_column(Text)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    value_number: Mapped[float | None] = mapped_column(Double)
    value_text: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(100))
    category: Mapped[str | None] = mapped_column(String(100))
