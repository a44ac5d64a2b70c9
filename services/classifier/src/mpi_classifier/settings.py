"""Settings of the relay and the worker (`MPI_CLASSIFIER_*`, plus `MPI_DATABASE_URL` and
`MPI_REDIS_URL`)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class BrokerSettings(BaseSettings):
    """What Celery needs (publisher and worker); nothing here is required."""

    model_config = SettingsConfigDict(
        env_prefix="MPI_CLASSIFIER_", extra="ignore", populate_by_name=True
    )

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("MPI_REDIS_URL", "redis_url"),
        description="Celery broker (Redis).",
    )
    queue: str = Field(default="adjudication", description="Celery queue of adjudication tasks.")
    max_retries: int = Field(
        default=8, ge=0, description="Task retries on backend errors before `failed`."
    )
    retry_backoff_seconds: float = Field(default=2.0, gt=0, description="First retry delay.")
    retry_backoff_max_seconds: float = Field(default=300.0, gt=0, description="Longest delay.")
    task_time_limit_seconds: int = Field(default=300, ge=10)
    visibility_timeout_seconds: int = Field(
        default=7200,
        ge=1,
        description="Redis redelivers an unacked task after this; keep it above the longest "
        "task plus the longest retry delay.",
    )

    @model_validator(mode="after")
    def _check_timeouts(self) -> BrokerSettings:
        # A task (or a retry waiting for its countdown) must be acked before Redis gives it to
        # another worker (stack.md §3).
        if self.visibility_timeout_seconds <= (
            self.task_time_limit_seconds + self.retry_backoff_max_seconds
        ):
            raise ValueError(
                "the visibility timeout must exceed the task time limit plus the longest retry"
            )
        return self


class Settings(BrokerSettings):
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("MPI_DATABASE_URL", "database_url"),
        description="SQLAlchemy URL of Postgres.",
    )
    database_pool_size: int = Field(default=4, ge=1)
    backend: Literal["overlap", "local", "vllm"] = Field(
        default="overlap",
        description="Classifier backend; `overlap` won the gray-pair benchmark on CPU.",
    )
    url: str | None = Field(
        default=None,
        description="Base URL of the vLLM server (`vllm` backend), e.g. http://vllm:8001",
    )
    model: str | None = Field(
        default=None,
        description="Served model name (`vllm`) or model path (`overlap`, `local`); "
        "default: the model shipped in the package.",
    )
    model_card: str | None = Field(
        default=None,
        description="`vllm`: JSON file with the served model's version and fitted fusion "
        "(`version`, `fusion`); without it a conservative unfitted fusion is used.",
    )
    tokenizer: str | None = Field(
        default=None,
        description="`vllm`: tokenizer.json (or its folder) of the served model, for the "
        "summaries' token budgets; unset: a conservative character estimate.",
    )
    max_tokens: int = Field(default=256, ge=64, description="Tokens per pair text.")
    batch_size: int = Field(default=32, ge=1, description="Pairs per classifier call.")
    timeout_seconds: float = Field(default=30.0, gt=0, description="Per classifier HTTP call.")
    http_retries: int = Field(default=2, ge=0, description="Retries inside one HTTP call.")
    relay_batch_size: int = Field(default=100, ge=1, description="Outbox rows per relay pass.")
    relay_poll_seconds: float = Field(default=0.5, gt=0, description="Idle wait between passes.")
    redeliver_stale_after_seconds: float = Field(
        default=900,
        gt=0,
        description="The relay publishes again a pending adjudication untouched this long (a "
        "worker killed holding it); a second delivery changes nothing.",
    )
    relay_backoff_max_seconds: float = Field(
        default=30.0, gt=0, description="Longest wait after the broker or database failed."
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not self.database_url:
            raise ValueError("MPI_DATABASE_URL is required")
        if self.backend == "vllm" and not self.url:
            raise ValueError("MPI_CLASSIFIER_URL is required for the vllm backend")
        return self
