"""The outbox relay: publishes committed adjudication requests to Redis as Celery tasks.

Each pass claims a batch of undispatched outbox rows (`FOR UPDATE SKIP LOCKED`), publishes one
`adjudicate(adjudication_id)` message per id (ids only: no PHI in the broker), marks the rows
dispatched in the same transaction and commits after publishing. If publishing fails the
transaction rolls back and the rows wait for the next pass; if the commit fails after a
publish, the rows are published again, which the idempotent task makes harmless.

A worker killed holding a task (its main process, not a pool child) leaves it unacknowledged in
Redis until the visibility timeout (hours); so the relay also sweeps for pending adjudications
untouched for `redeliver_stale_after_seconds` and queues them again through the outbox.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from mpi_classifier.settings import BrokerSettings, Settings
from mpi_classifier.worker import TASK_NAME, configure
from mpi_store.db import unit_of_work
from mpi_store.domain.enums import OutboxTopic
from mpi_store.repositories import AdjudicationRepository, OutboxRepository

log = logging.getLogger(__name__)

Publish = Callable[[int], None]


class CeleryPublisher:
    """Sends `adjudicate` messages without importing the task (the relay needs no model)."""

    def __init__(self, settings: BrokerSettings) -> None:
        self.queue = settings.queue
        self.app = configure(Celery("mpi_relay", set_as_current=False), settings)

    def __call__(self, adjudication_id: int) -> None:
        # No publish retries here: the relay's own loop backs off and retries the batch.
        self.app.send_task(TASK_NAME, args=[adjudication_id], queue=self.queue, retry=False)

    def close(self) -> None:
        self.app.close()


def relay_once(session_factory: sessionmaker[Session], publish: Publish, *, batch_size: int) -> int:
    """One pass; returns how many outbox rows it dispatched."""
    with unit_of_work(session_factory) as session:
        outbox = OutboxRepository(session)
        rows = outbox.claim_pending([OutboxTopic.ADJUDICATION_REQUESTED], limit=batch_size)
        for row in rows:
            for adjudication_id in row.payload["adjudication_ids"]:
                publish(int(adjudication_id))
        outbox.mark_dispatched([row.id for row in rows])
    if rows:
        log.info("relayed outbox rows %s..%s (%s)", rows[0].id, rows[-1].id, len(rows))
    return len(rows)


def redeliver_stale(
    session_factory: sessionmaker[Session], *, stale_after: dt.timedelta, limit: int
) -> int:
    """Queue again (a new outbox row per record) the pending adjudications untouched for
    `stale_after`; returns how many."""
    stale_before = dt.datetime.now(dt.UTC) - stale_after
    with unit_of_work(session_factory) as session:
        stale = AdjudicationRepository(session).requeue_stale(
            stale_before=stale_before, limit=limit
        )
        by_record: defaultdict[int, list[int]] = defaultdict(list)
        for adjudication_id, record_id in stale:
            by_record[record_id].append(adjudication_id)
        outbox = OutboxRepository(session)
        for record_id, ids in by_record.items():
            outbox.add(
                OutboxTopic.ADJUDICATION_REQUESTED,
                {"record_id": record_id, "adjudication_ids": ids},
            )
    if stale:
        log.warning(
            "redelivering %s stale pending adjudications, first %s", len(stale), stale[0][0]
        )
    return len(stale)


def run(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    stop: threading.Event,
    publisher_factory: Callable[[Settings], CeleryPublisher] = CeleryPublisher,
) -> None:
    """Relay until `stop` is set; broker or database failures back off exponentially."""
    publisher: CeleryPublisher | None = None
    failures = 0
    stale_after = dt.timedelta(seconds=settings.redeliver_stale_after_seconds)
    # Sweep for stale ones a few times per staleness period (at most every 30 s).
    sweep_every = min(30.0, settings.redeliver_stale_after_seconds / 4)
    next_sweep = time.monotonic()
    while not stop.is_set():
        try:
            if time.monotonic() >= next_sweep:
                redeliver_stale(
                    session_factory, stale_after=stale_after, limit=settings.relay_batch_size
                )
                next_sweep = time.monotonic() + sweep_every
            publisher = publisher or publisher_factory(settings)
            relayed = relay_once(session_factory, publisher, batch_size=settings.relay_batch_size)
            failures = 0
        except Exception as error:  # any broker or database error: keep the work, retry
            failures += 1
            delay = min(settings.relay_backoff_max_seconds, 0.5 * 2 ** min(failures, 10))
            log.warning("relay pass failed (%s); retrying in %.1f s", type(error).__name__, delay)
            if publisher is not None:
                # A fresh connection pool after a broker failure: kombu may keep dead sockets.
                publisher.close()
                publisher = None
            stop.wait(delay)
            continue
        if relayed < settings.relay_batch_size:
            stop.wait(settings.relay_poll_seconds)
    if publisher is not None:
        publisher.close()
