"""Settings shared by every service: where Postgres and Redis are."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseSettings(BaseSettings):
    """`MPI_DATABASE_URL`: a SQLAlchemy URL (`postgresql+psycopg://...`)."""

    model_config = SettingsConfigDict(env_prefix="MPI_", extra="ignore")

    database_url: str = Field(
        default="", description="SQLAlchemy URL of the Postgres system of record."
    )
    database_pool_size: int = Field(default=10, ge=1)
