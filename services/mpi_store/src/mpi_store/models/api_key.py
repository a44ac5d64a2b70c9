"""An API key: only its SHA-256 is stored; scopes and the sources it may write."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, DateTime, String, false
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from mpi_store.models.base import Base, Timestamps


class ApiKey(Timestamps, Base):
    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(30)))
    # NULL: every source; otherwise the only sources this key may write.
    allowed_sources: Mapped[list[str] | None] = mapped_column(ARRAY(String(100)))
    # Lenient intake: a record with invalid optional fields is stored with them dropped.
    lenient: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
