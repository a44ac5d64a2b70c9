"""Engines never put bound values into error messages; advisory locks."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from mpi_store.db import advisory_lock_keys, make_engine, make_sessionmaker


def test_a_failed_statement_does_not_quote_its_parameters(database_url):
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as connection, pytest.raises(DBAPIError) as failure:
            connection.execute(text("SELECT CAST(:ssn AS text), 1 / 0"), {"ssn": "219-09-9999"})
    finally:
        engine.dispose()
    assert "219-09-9999" not in str(failure.value)


def test_advisory_locks_are_taken_in_one_statement_and_held_to_the_end(database_url):
    engine = make_engine(database_url, pool_size=2)
    statements: list[str] = []

    def seen(connection, cursor, statement, *args):
        statements.append(statement)

    held_here = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    )
    try:
        factory = make_sessionmaker(engine)
        with factory() as holder, factory() as other:
            event.listen(engine, "before_cursor_execute", seen)
            advisory_lock_keys(holder, ["b", "a", "c", "a"])
            event.remove(engine, "before_cursor_execute", seen)
            held = holder.scalar(held_here)
            other.execute(text("SET LOCAL lock_timeout = '100ms'"))
            with pytest.raises(DBAPIError, match="lock timeout"):
                advisory_lock_keys(other, ["z", "c"])
            other.rollback()
            holder.rollback()
            advisory_lock_keys(other, ["c"])  # free once the holder's transaction ends
        assert held == 3
        assert len([s for s in statements if "pg_advisory_xact_lock" in s]) == 1
    finally:
        engine.dispose()
