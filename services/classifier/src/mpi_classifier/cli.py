"""The adjudication processes: `mpi-relay` and `mpi-worker` (also `mpi relay` and `mpi worker`,
registered as `mpi.commands`, and `python -m mpi_classifier.cli relay|worker`)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer

from mpi_classifier.settings import Settings
from mpi_store.settings import load_settings

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def relay() -> None:
    """Publish committed adjudication requests from the outbox to Redis until SIGTERM/Ctrl-C."""
    from mpi_classifier import relay as outbox_relay
    from mpi_store.db import make_engine, make_sessionmaker

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    settings = load_settings(Settings)
    engine = make_engine(settings.database_url, pool_size=1)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        outbox_relay.run(settings, make_sessionmaker(engine), stop=stop)
    finally:
        engine.dispose()


def worker(
    concurrency: Annotated[int, typer.Option(help="Worker processes")] = 1,
    loglevel: Annotated[str, typer.Option(help="Celery log level")] = "INFO",
) -> None:
    """Run the Celery worker that adjudicates gray pairs (the backend MPI_CLASSIFIER_BACKEND)."""
    from mpi_classifier.worker import app, configure

    settings = load_settings(Settings)
    configure(app, settings)
    app.worker_main(
        [
            "worker",
            f"--loglevel={loglevel}",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            f"--queues={settings.queue}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def relay_main() -> None:
    """`mpi-relay`."""
    typer.run(relay)


def worker_main() -> None:
    """`mpi-worker`."""
    typer.run(worker)


if __name__ == "__main__":
    processes = typer.Typer(add_completion=False)
    processes.command("relay")(relay)
    processes.command("worker")(worker)
    processes()
