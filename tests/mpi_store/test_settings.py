"""Settings errors name the variable, never its value."""

from __future__ import annotations

import os
import subprocess
import sys

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


@pytest.mark.parametrize(
    ("module", "variable"),
    [
        ("mpi_api.serve", "MPI_API_DATABASE_POOL_SIZE"),
        ("mpi_linker.serve", "MPI_LINKER_DATABASE_POOL_SIZE"),
    ],
)
def test_a_service_checks_its_settings_without_serving(module, variable):
    """`mpi-api --check-settings` (and the linker's): the pre-flight `mpi up` runs."""
    env = {
        **os.environ,
        "MPI_DATABASE_URL": "postgresql://db/mpi",
        "MPI_API_LINKER_URL": "http://127.0.0.1:9",
    }
    check = [sys.executable, "-m", module, "--check-settings"]

    valid = subprocess.run(check, env=env, capture_output=True, text=True, timeout=60)
    refused = subprocess.run(
        check, env={**env, variable: SECRET}, capture_output=True, text=True, timeout=60
    )

    assert (valid.returncode, valid.stderr) == (0, "")
    assert refused.returncode == 2
    assert variable in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "QX7Z9" not in refused.stderr
