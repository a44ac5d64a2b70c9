"""The Celery app: at-least-once delivery of adjudication tasks over Redis (stack.md §3).

`celery -A mpi_classifier.worker:app worker` and `mpi worker` run it. Settings are read when
the app is first configured, not at import.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from mpi_classifier.settings import BrokerSettings
from mpi_store.settings import load_settings

TASK_NAME = "mpi_classifier.adjudicate"


def celery_config(settings: BrokerSettings) -> dict[str, Any]:
    return {
        "broker_url": settings.redis_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": settings.visibility_timeout_seconds,
            "socket_keepalive": True,
            "health_check_interval": 30,
        },
        # Outcomes live in Postgres (the adjudication row); no result store.
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # Failed tasks are acked: the task retries explicitly and marks `failed` at the end.
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_soft_shutdown_timeout": 30.0,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_time_limit": settings.task_time_limit_seconds,
        "task_soft_time_limit": max(settings.task_time_limit_seconds - 30, 5),
        "task_default_queue": settings.queue,
        "task_routes": {TASK_NAME: {"queue": settings.queue}},
    }


def configure(celery: Celery, settings: BrokerSettings) -> Celery:
    celery.conf.update(celery_config(settings))
    return celery


app = Celery("mpi_classifier", include=["mpi_classifier.tasks"])
# Lazy: evaluated when the configuration is first read (by the worker or a publisher).
app.add_defaults(lambda: celery_config(load_settings(BrokerSettings)))
