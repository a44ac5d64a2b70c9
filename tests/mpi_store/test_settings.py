"""Settings errors name the variable, never its value."""

from __future__ import annotations

import pytest

from mpi_api.settings import Settings as ApiSettings
from mpi_linker.settings import Settings as LinkerSettings
from mpi_store.domain.errors import ConfigurationError
from mpi_store.settings import load_settings

SECRET = "mpik_leaked_tail_QX7Z9"


def test_a_dev_key_outside_dev_is_named_and_not_echoed(monkeypatch):
    monkeypatch.setenv("MPI_DATABASE_URL", "postgresql://db/mpi")
    monkeypatch.setenv("MPI_DEV_API_KEY", SECRET)
    monkeypatch.setenv("MPI_API_ENVIRONMENT", "production")

    with pytest.raises(ConfigurationError) as failure:
        load_settings(ApiSettings)

    assert "MPI_DEV_API_KEY" in str(failure.value)
    assert "QX7Z9" not in str(failure.value)


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        (ApiSettings, "MPI_API_DATABASE_POOL_SIZE"),
        (LinkerSettings, "MPI_LINKER_DATABASE_POOL_SIZE"),
    ],
)
def test_a_malformed_value_is_named_and_not_echoed(monkeypatch, settings, variable):
    monkeypatch.setenv("MPI_DATABASE_URL", "postgresql://db/mpi")
    monkeypatch.setenv(variable, SECRET)

    with pytest.raises(ConfigurationError) as failure:
        load_settings(settings)

    assert variable in str(failure.value)
    assert SECRET not in str(failure.value)
    assert failure.value.__cause__ is None
