"""The enterprise patient: a stable opaque `mpi_id` and its survivorship view."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mpi_store.models.base import Base, Timestamps


class GoldenRecord(Timestamps, Base):
    __tablename__ = "golden_record"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    mpi_id: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="active")
    redirect_to: Mapped[int | None] = mapped_column(ForeignKey("golden_record.id"))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    override: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(Integer, default=1)
