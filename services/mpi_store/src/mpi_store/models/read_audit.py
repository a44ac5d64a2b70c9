"""Append-only audit of reads: who read which patients or records, through which route, when.

Ids only (mpi_ids, record keys), never demographic values or what a search looked for.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mpi_store.models.base import Base


class ReadAudit(Base):
    __tablename__ = "read_audit"
    __table_args__ = (
        Index("ix_read_audit_created_at", "created_at"),
        Index("ix_read_audit_mpi_ids", "mpi_ids", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The key that read (None: the dev key, which has no row) and its name at the time.
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_key.id"))
    actor: Mapped[str] = mapped_column(String(100))
    # The route's operation id (`read_patient`, `search_patients`, `fhir_match_patient`, ...).
    action: Mapped[str] = mapped_column(String(40))
    # The patients the answer named, and the records a record read named, as `[source, id]`.
    mpi_ids: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    record_keys: Mapped[list[list[str]]] = mapped_column(JSONB)
    result_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
