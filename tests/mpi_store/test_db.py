"""Engines never put bound values into error messages."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from mpi_store.db import make_engine


def test_a_failed_statement_does_not_quote_its_parameters(database_url):
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as connection, pytest.raises(DBAPIError) as failure:
            connection.execute(text("SELECT CAST(:ssn AS text), 1 / 0"), {"ssn": "219-09-9999"})
    finally:
        engine.dispose()
    assert "219-09-9999" not in str(failure.value)
