"""The one current link of a source record to its golden record."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BigInteger, Double, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mpi_store.models.base import Base, Timestamps


class Link(Timestamps, Base):
    __tablename__ = "link"
    # The stewards' queue: one match result (POSSIBLE_MATCH) oldest first, in pages.
    __table_args__ = (
        Index("ix_link_review_queue", "match_result", "updated_at", "id"),
        # The disputed MANUAL decisions, oldest first.
        Index(
            "ix_link_disputed", "updated_at", "id", postgresql_where=text("disputed IS NOT NULL")
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Unique: a source record has exactly one current link, enforced by the database.
    record_id: Mapped[int] = mapped_column(
        ForeignKey("source_record.id", ondelete="CASCADE"), unique=True
    )
    golden_record_id: Mapped[int] = mapped_column(ForeignKey("golden_record.id"), index=True)
    match_result: Mapped[str] = mapped_column(String(20))
    link_source: Mapped[str] = mapped_column(String(10))
    link_state: Mapped[str] = mapped_column(String(12))
    probability: Mapped[float | None] = mapped_column(Double)
    match_weight: Mapped[float | None] = mapped_column(Double)
    model_version: Mapped[str | None] = mapped_column(String(100))
    decision_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # A steward's NO_MATCH: the golden records (followed through redirects) this record must
    # never be joined with by automation.
    kept_apart_from: Mapped[list[int]] = mapped_column(
        ARRAY(BigInteger), default=list, server_default=text("'{}'")
    )
    # A MANUAL decision automation disagrees with (a relink under a new model, a classifier
    # verdict): who disagreed and what it proposes (`LinkRepository.dispute`). It waits in the
    # stewards' queue until a steward decides the link again.
    disputed: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
