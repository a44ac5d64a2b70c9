"""A gray-zone pair waiting for (or decided by) the clinical-history classifier."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Double, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mpi_store.models.base import Base, Timestamps


class Adjudication(Timestamps, Base):
    __tablename__ = "adjudication"
    __table_args__ = (
        UniqueConstraint("record_id", "candidate_record_id"),
        # The relay's sweep for pending ones a killed worker stranded (`requeue_stale`).
        Index(
            "ix_adjudication_pending_updated_at",
            "updated_at",
            postgresql_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id", ondelete="CASCADE"))
    candidate_record_id: Mapped[int] = mapped_column(
        ForeignKey("source_record.id", ondelete="CASCADE"), index=True
    )
    candidate_golden_record_id: Mapped[int] = mapped_column(ForeignKey("golden_record.id"))
    probability: Mapped[float] = mapped_column(Double)
    match_weight: Mapped[float] = mapped_column(Double)
    # Per-comparison match weights from Splink: the explanation of the demographic score.
    comparison_weights: Mapped[dict[str, Any]] = mapped_column(JSONB)
    model_version: Mapped[str] = mapped_column(String(100))
    # The linker model's bound for linking on Splink alone when the classifier abstains.
    accept_alone_threshold: Mapped[float | None] = mapped_column(Double)
    # Why the classifier gave no probability (no comparable clinical events on a side).
    abstain_reason: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    classifier_probability: Mapped[float | None] = mapped_column(Double)
    fused_probability: Mapped[float | None] = mapped_column(Double)
    verdict: Mapped[str | None] = mapped_column(String(20))
    classifier_backend: Mapped[str | None] = mapped_column(String(50))
    classifier_model: Mapped[str | None] = mapped_column(String(200))
    # Why a `review` verdict waits for a person: the guards or rules that stopped the merge.
    review_reasons: Mapped[list[str] | None] = mapped_column(JSONB)
