"""The catch-all 500: error format, request id, and no record values in the log."""

from __future__ import annotations

import logging

import pytest

from mpi_store.repositories import SourceRecordRepository

NAME, SSN = "Zedekiah", "219-09-9999"


@pytest.fixture
def failing_insert(monkeypatch):
    """Make the record's INSERT fail in the driver, as a NUL byte in a name once did."""
    original = SourceRecordRepository.add

    def add(self, record):
        record.given_name = f"{record.given_name}\x00"
        return original(self, record)

    monkeypatch.setattr(SourceRecordRepository, "add", add)


@pytest.mark.usefixtures("failing_insert")
def test_a_database_error_is_a_500_that_logs_no_record_values(client, make_record, caplog):
    caplog.set_level(logging.DEBUG)
    answer = client.post("/records", json=make_record(family_name=NAME, ssn=SSN))

    assert answer.status_code == 500
    body = answer.json()
    assert body["error"] == "InternalError"
    request_id = answer.headers["X-Request-ID"]
    assert request_id in body["detail"]
    assert request_id in caplog.text
    assert "DataError" in caplog.text
    for value in (NAME, SSN, SSN.replace("-", ""), "1984-03-12", "Gonzalez"):
        assert value not in caplog.text
        assert value not in answer.text
