"""The linker's index: each record's comparison features and its blocking keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mpi_store.models.base import Base, Timestamps


class LinkerRecord(Timestamps, Base):
    __tablename__ = "linker_record"

    record_id: Mapped[int] = mapped_column(
        ForeignKey("source_record.id", ondelete="CASCADE"), primary_key=True
    )
    # Normalised comparison columns (mpi_linker.features); never returned by the api.
    features: Mapped[dict[str, Any]] = mapped_column(JSONB)


class BlockingKey(Base):
    __tablename__ = "blocking_key"

    # Key first: candidate retrieval is `key = ANY(:keys)` on this primary-key index.
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("source_record.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class TermFrequency(Base):
    __tablename__ = "term_frequency"

    column_name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(300), primary_key=True)
    frequency: Mapped[float]
