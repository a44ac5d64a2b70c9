"""Settings of the api process (`MPI_API_*`, plus the shared `MPI_DATABASE_URL`)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDER_KEYS = frozenset({"", "changeme", "change-me", "dev", "secret", "test"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MPI_API_", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("MPI_DATABASE_URL", "database_url"),
        description="SQLAlchemy URL of Postgres (`postgresql://...`).",
    )
    database_pool_size: int = Field(default=10, ge=1, description="Connections per api process.")
    environment: Literal["dev", "production"] = Field(
        default="production", description="`dev` enables the dev API key."
    )
    dev_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MPI_DEV_API_KEY", "dev_api_key"),
        description="All-scopes key accepted in dev mode only.",
    )
    linker_url: str = Field(
        default="http://127.0.0.1:8010", description="Base URL of the linker service."
    )
    linker_timeout_seconds: float = Field(default=2.0, gt=0, description="Per linker call.")
    linker_retries: int = Field(default=2, ge=0, description="Retries of a failed linker call.")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Request body limit.")
    fhir_mrn_systems: dict[str, str] = Field(
        default_factory=dict,
        description="FHIR: each facility's MRN identifier system URI and the source it names "
        '(JSON, `{"urn:oid:2.16.840.1.113883.3.1": "FAC1"}`).',
    )
    lenient_sources: list[str] = Field(
        default_factory=list,
        description="Sources whose records are stored with invalid optional fields dropped "
        '(201 with `warnings`) instead of refused whole (JSON, `["LEGACY1"]`); a key made with '
        "`mpi keys create --lenient` is lenient for every source it writes.",
    )
    requeue_pending_after_seconds: float = Field(
        default=900,
        gt=0,
        description="A pending adjudication untouched this long may be requeued (its worker died).",
    )

    @model_validator(mode="after")
    def _refuse_unsafe_secrets(self) -> Settings:
        if not self.database_url:
            raise ValueError("MPI_DATABASE_URL is required")
        if self.environment != "dev" and self.dev_api_key:
            raise ValueError("MPI_DEV_API_KEY is only accepted with MPI_API_ENVIRONMENT=dev")
        if self.dev_api_key is not None and self.dev_api_key.strip().lower() in _PLACEHOLDER_KEYS:
            raise ValueError("MPI_DEV_API_KEY is a placeholder; use a random value")
        return self
