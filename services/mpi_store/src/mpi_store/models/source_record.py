"""A facility's record of a patient, as received plus the normalised keys used for matching."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mpi_store.models.base import Base, Timestamps


class SourceRecord(Timestamps, Base):
    __tablename__ = "source_record"
    __table_args__ = (
        UniqueConstraint("source", "source_record_id"),
        Index("ix_source_record_norm_ssn", "norm_ssn", postgresql_where="norm_ssn IS NOT NULL"),
        Index(
            "ix_source_record_name_dob",
            "norm_family_name",
            "norm_given_name",
            "birth_date",
            postgresql_where="birth_date IS NOT NULL",
        ),
        # `GET /patients?identifier=`: records holding `{"system": ..., "value": ...}`.
        Index(
            "ix_source_record_identifiers",
            "identifiers",
            postgresql_using="gin",
            postgresql_ops={"identifiers": "jsonb_path_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    source_record_id: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str | None] = mapped_column(String(200))
    middle_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(10))
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    ssn: Mapped[str | None] = mapped_column(String(20))
    identifiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # A lenient source's invalid fields, as received (stored null above; never logged).
    dropped_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    norm_given_name: Mapped[str | None] = mapped_column(String(200))
    norm_family_name: Mapped[str | None] = mapped_column(String(200))
    norm_ssn: Mapped[str | None] = mapped_column(String(9))
    content_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
