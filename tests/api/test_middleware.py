"""The catch-all 500: error format, request id, and no record values in the log; a transient
database failure is a 503 to retry."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from mpi_store.repositories import GoldenRecordRepository, SourceRecordRepository

NAME, SSN = "Zedekiah", "219-09-9999"
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.19.1"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"fhir_mrn_systems": {MRN_SYSTEM: "FAC1"}})


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


@pytest.fixture
def golden_table_locked(engine, monkeypatch):
    """Another transaction holds the patient table; the api's next write into it gives up
    after 100 ms with Postgres's lock_not_available (55P03), a transient failure."""
    original = GoldenRecordRepository.create

    def create(self):
        self.session.execute(text("SET LOCAL lock_timeout = '100ms'"))
        return original(self)

    monkeypatch.setattr(GoldenRecordRepository, "create", create)
    with engine.connect() as holder:
        holder.execute(text("LOCK TABLE golden_record IN EXCLUSIVE MODE"))
        yield
        holder.rollback()


@pytest.mark.usefixtures("golden_table_locked")
def test_a_transient_database_failure_is_a_503_to_retry(client, make_record, caplog):
    caplog.set_level(logging.DEBUG)
    answer = client.post("/records", json=make_record(family_name=NAME, ssn=SSN))

    assert answer.status_code == 503
    assert answer.json()["error"] == "DatabaseUnavailable"
    assert int(answer.headers["Retry-After"]) > 0
    assert "55P03" in caplog.text
    for value in (NAME, SSN, SSN.replace("-", ""), "1984-03-12"):
        assert value not in caplog.text
        assert value not in answer.text
    assert client.get("/records/FAC1/MRN000001").status_code == 404


@pytest.mark.usefixtures("golden_table_locked")
def test_a_transient_database_failure_on_fhir_is_an_operation_outcome(client):
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": MRN_SYSTEM, "value": "A100"}],
        "name": [{"family": NAME, "given": ["Maria"]}],
        "birthDate": "1984-03-12",
    }
    answer = client.post("/fhir/Patient", json=patient)

    assert answer.status_code == 503
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert "Retry-After" in answer.headers
