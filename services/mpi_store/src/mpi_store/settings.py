"""Settings shared by every service: where Postgres and Redis are, and how settings load."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mpi_store.domain.errors import ConfigurationError

S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], **values: Any) -> S:
    """Settings from the environment (and `values`, which win).

    An invalid setting raises `ConfigurationError` naming each variable and what is wrong
    with it, never its value: pydantic's own message quotes the input, and a key's tail in a
    log or a terminal is a leaked key.
    """
    try:
        return cls(**values)
    except ValidationError as error:
        problems = [
            f"{_variable(cls, item['loc'])}: {item['msg']}" if item["loc"] else item["msg"]
            for item in error.errors(include_input=False, include_url=False)
        ]
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None


def _variable(cls: type[BaseSettings], loc: tuple[int | str, ...]) -> str:
    name = str(loc[0])
    field = cls.model_fields.get(name)
    alias = field.validation_alias if field is not None else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    if isinstance(alias, str):
        return alias
    if name.upper().startswith("MPI_"):
        return name.upper()
    return (str(cls.model_config.get("env_prefix", "")) + name).upper()


class DatabaseSettings(BaseSettings):
    """`MPI_DATABASE_URL`: a SQLAlchemy URL (`postgresql+psycopg://...`)."""

    model_config = SettingsConfigDict(env_prefix="MPI_", extra="ignore")

    database_url: str = Field(
        default="", description="SQLAlchemy URL of the Postgres system of record."
    )
    database_pool_size: int = Field(default=10, ge=1)
