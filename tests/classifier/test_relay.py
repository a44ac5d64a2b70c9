"""The outbox relay against a real Redis: ids only, nothing lost when Redis is down."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from mpi_classifier import relay
from mpi_classifier.worker import TASK_NAME
from mpi_devtools.embedded_redis import start_redis
from mpi_store.db import make_sessionmaker, unit_of_work
from mpi_store.domain.enums import OutboxTopic
from mpi_store.models import Outbox
from mpi_store.repositories import OutboxRepository


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _outbox(session, *ids_lists):
    repository = OutboxRepository(session)
    rows = [
        repository.add(
            OutboxTopic.ADJUDICATION_REQUESTED, {"record_id": 1, "adjudication_ids": ids}
        )
        for ids in ids_lists
    ]
    session.flush()
    return rows


def test_one_task_per_adjudication_id_with_ids_only(
    session, session_factory, classifier_settings, drain_queue
):
    _outbox(session, [11, 12], [13])
    publisher = relay.CeleryPublisher(classifier_settings)

    relayed = relay.relay_once(session_factory, publisher, batch_size=10)
    publisher.close()

    assert relayed == 2
    assert drain_queue() == [(TASK_NAME, [11]), (TASK_NAME, [12]), (TASK_NAME, [13])]
    assert OutboxRepository(session).pending_count() == 0


def test_other_topics_are_left_for_their_consumers(session, session_factory):
    OutboxRepository(session).add("patient.merged", {"mpi_id": "mpi_x"})
    published = []

    relay.relay_once(session_factory, published.append, batch_size=10)

    assert published == []
    assert OutboxRepository(session).pending_count() == 1


def test_redis_down_keeps_the_work_in_the_outbox(
    session, session_factory, classifier_settings, tmp_path, redis_url
):
    _outbox(session, [21])
    port = _free_port()
    down = classifier_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
    publisher = relay.CeleryPublisher(down)

    with pytest.raises(Exception, match=r"(?i)connect|refused"):
        relay.relay_once(session_factory, publisher, batch_size=10)
    publisher.close()

    row = session.scalars(select(Outbox)).one()
    session.refresh(row)
    assert row.dispatched_at is None


def test_the_relay_loop_retries_until_redis_is_back(
    committed_engine, classifier_settings, drain_queue, tmp_path: Path
):
    factory = make_sessionmaker(committed_engine)
    with unit_of_work(factory) as session:
        _outbox(session, [31], [32])
    port = _free_port()
    settings = classifier_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
    stop = threading.Event()
    loop = threading.Thread(target=relay.run, args=(settings, factory), kwargs={"stop": stop})
    loop.start()
    try:
        stop.wait(1.0)  # a few failed passes against the closed port
        with factory() as session:
            assert OutboxRepository(session).pending_count() == 2
        server = start_redis(tmp_path / "redis", port)
        try:
            for _ in range(100):
                with factory() as session:
                    if OutboxRepository(session).pending_count() == 0:
                        break
                stop.wait(0.1)
            messages = drain_queue(server.url, settings.queue)
        finally:
            stop.set()
            loop.join(timeout=10)
            server.stop()
    finally:
        stop.set()
    assert sorted(args for _, args in messages) == [[31], [32]]
