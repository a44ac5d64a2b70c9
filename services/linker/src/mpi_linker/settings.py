"""Settings of the linker process (`MPI_LINKER_*`, plus the shared `MPI_DATABASE_URL`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MPI_LINKER_", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("MPI_DATABASE_URL", "database_url"),
        description="SQLAlchemy URL of Postgres.",
    )
    database_pool_size: int = Field(default=10, ge=1)
    model_path: Path | None = Field(
        default=None, description="Model artifact JSON; default: the model shipped in the package."
    )
    max_candidates: int = Field(
        default=200, ge=1, description="Candidates scored per record; more are cut (and logged)."
    )
    tf_refresh_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often to check whether the term frequencies need a refresh (and re-read "
        "them if they changed); 0: never.",
    )
    tf_refresh_growth: float = Field(
        default=0.1,
        ge=0,
        description="Refresh the term frequencies once the index has grown by this fraction.",
    )

    @model_validator(mode="after")
    def _require_database(self) -> Settings:
        if not self.database_url:
            raise ValueError("MPI_DATABASE_URL is required")
        return self
