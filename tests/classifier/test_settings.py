"""Worker and relay settings: shared URLs, backend choice, timeouts that keep delivery safe."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mpi_classifier.settings import BrokerSettings, Settings
from mpi_classifier.worker import celery_config


def test_shared_urls_and_prefixed_options_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MPI_DATABASE_URL", "postgresql://db/mpi")
    monkeypatch.setenv("MPI_REDIS_URL", "redis://broker:6379/0")
    monkeypatch.setenv("MPI_CLASSIFIER_BACKEND", "vllm")
    monkeypatch.setenv("MPI_CLASSIFIER_URL", "http://vllm:8001")

    settings = Settings()

    assert (settings.database_url, settings.redis_url) == (
        "postgresql://db/mpi",
        "redis://broker:6379/0",
    )
    assert (settings.backend, settings.url) == ("vllm", "http://vllm:8001")


def test_the_vllm_backend_needs_a_url():
    with pytest.raises(ValidationError, match="MPI_CLASSIFIER_URL"):
        Settings(database_url="postgresql://db/mpi", backend="vllm")


def test_the_visibility_timeout_must_outlast_a_task_and_its_retry_delay():
    with pytest.raises(ValidationError, match="visibility timeout"):
        BrokerSettings(
            task_time_limit_seconds=300,
            retry_backoff_max_seconds=300,
            visibility_timeout_seconds=600,
        )


def test_celery_is_configured_for_at_least_once_delivery():
    config = celery_config(BrokerSettings(queue="q"))

    assert config["task_acks_late"] is True
    assert config["task_reject_on_worker_lost"] is True
    assert config["worker_prefetch_multiplier"] == 1
    assert config["accept_content"] == ["json"]
    assert config["result_backend"] is None
    assert config["broker_transport_options"]["visibility_timeout"] > config["task_time_limit"]
    assert config["task_default_queue"] == "q"
