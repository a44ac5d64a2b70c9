"""The event stream is read in commit order: a transaction that commits late is never skipped."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.orm import Session

from mpi_store.domain.enums import EventType
from mpi_store.domain.errors import EventNotFound
from mpi_store.models import GoldenRecord
from mpi_store.repositories import EventRepository, GoldenRecordRepository


def _read(engine, after=None, limit=100):
    with Session(engine) as session:
        return [(e.type, e.mpi_id) for e in EventRepository(session).page(after=after, limit=limit)]


def _read_once_visible(engine, count, seconds=10.0):
    """The stream once it shows `count` events: a transaction of another database on the same
    server (a parallel test worker) can hold the horizon back for a moment."""
    deadline = time.monotonic() + seconds
    while len(stream := _read(engine)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return stream


def _ids(engine, after=None):
    with Session(engine) as session:
        return [e.id for e in EventRepository(session).page(after=after, limit=100)]


def test_a_running_transaction_holds_back_the_events_committed_after_it(committed_engine):
    # Closed even when an assertion fails: an open session would block the tables' cleanup.
    with Session(committed_engine) as early, Session(committed_engine) as late:
        # `early` takes its transaction id first (it writes first), but its event gets the
        # larger id: it is appended after `late`'s.
        early_id = GoldenRecordRepository(early).create().mpi_id
        late_id = GoldenRecordRepository(late).create().mpi_id
        late.commit()
        assert _read(committed_engine) == []  # `early` is still running

        early.commit()
    assert _read_once_visible(committed_engine, 2) == [
        (EventType.PATIENT_CREATED, early_id),
        (EventType.PATIENT_CREATED, late_id),
    ]


def test_a_reader_past_an_id_still_gets_a_smaller_id_committed_later(committed_engine):
    with Session(committed_engine) as first, Session(committed_engine) as second:
        first.add(GoldenRecord(mpi_id="mpi_first_tx", status="active", attributes={}, version=1))
        first.flush()  # `first` holds the older transaction id
        second_id = GoldenRecordRepository(second).create().mpi_id
        second.commit()
        first_id = GoldenRecordRepository(first).create().mpi_id
        # The event with the smaller id belongs to `second`... and `first`'s (larger id) is
        # ordered before it, because its transaction is older.
        assert _ids(committed_engine) == []
        first.commit()
    assert _read_once_visible(committed_engine, 2) == [
        (EventType.PATIENT_CREATED, first_id),
        (EventType.PATIENT_CREATED, second_id),
    ]
    ids = _ids(committed_engine)
    assert _ids(committed_engine, after=ids[0]) == ids[1:]
    assert _ids(committed_engine, after=ids[1]) == []


def test_pages_follow_the_cursor_and_a_rolled_back_change_leaves_no_event(committed_engine):
    with Session(committed_engine) as session:
        created = [GoldenRecordRepository(session).create().mpi_id for _ in range(5)]
        session.commit()
    with Session(committed_engine) as session:
        GoldenRecordRepository(session).create()
        session.rollback()
    page = _ids(committed_engine)
    assert len(page) == 5
    with Session(committed_engine) as session:
        repository = EventRepository(session)
        first_two = repository.page(after=None, limit=2)
        rest = repository.page(after=first_two[-1].id, limit=10)
    assert [e.mpi_id for e in first_two + rest] == created


def test_an_unknown_cursor_is_refused(committed_engine):
    with Session(committed_engine) as session, pytest.raises(EventNotFound, match="no event"):
        EventRepository(session).page(after=999_999, limit=10)
