"""API keys: 401 without a valid key, 403 without the scope or the source."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mpi_api.settings import Settings
from mpi_store.domain.enums import Scope
from mpi_store.models import ApiKey


def test_no_key_is_401(anonymous, make_record):
    response = anonymous.post("/records", json=make_record())

    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"


def test_unknown_key_is_401(anonymous):
    response = anonymous.get("/patients/mpi_x", headers={"Authorization": "Bearer mpik_nope"})

    assert response.status_code == 401


def test_key_in_x_api_key_header(anonymous, make_key, make_record):
    key = make_key([Scope.RECORDS_WRITE])

    response = anonymous.post("/records", json=make_record(), headers={"X-API-Key": key})

    assert response.status_code == 201


def test_missing_scope_is_403(anonymous, make_key, make_record):
    key = make_key([Scope.PATIENTS_READ])

    response = anonymous.post(
        "/records", json=make_record(), headers={"Authorization": f"Bearer {key}"}
    )

    assert response.status_code == 403


def test_reader_cannot_write_and_writer_cannot_read(anonymous, make_key, make_record):
    writer = {"Authorization": f"Bearer {make_key([Scope.RECORDS_WRITE])}"}
    created = anonymous.post("/records", json=make_record(), headers=writer).json()

    response = anonymous.get(f"/patients/{created['mpi_id']}", headers=writer)

    assert response.status_code == 403


def test_source_outside_the_key_is_403_and_not_written(anonymous, make_key, make_record):
    headers = {"Authorization": f"Bearer {make_key([Scope.RECORDS_WRITE], ['FAC1'])}"}
    allowed = anonymous.post("/records", json=make_record(source="FAC1"), headers=headers)
    refused = anonymous.post(
        "/records", json=make_record(source="FAC2", source_record_id="Z9"), headers=headers
    )
    admin = {"Authorization": f"Bearer {make_key([Scope.ADMIN])}"}

    assert allowed.status_code == 201
    assert refused.status_code == 403
    assert anonymous.get("/records/FAC2/Z9", headers=admin).status_code == 404


def test_only_the_hash_is_stored(make_key, session):
    key = make_key([Scope.ADMIN])

    stored = session.scalars(select(ApiKey.key_hash)).all()

    assert key not in stored
    assert len(stored) == 1


def test_dev_key_is_refused_outside_dev(database_url):
    with pytest.raises(ValueError, match="MPI_DEV_API_KEY"):
        Settings(database_url=database_url, environment="production", dev_api_key="x" * 40)


def test_placeholder_dev_key_is_refused(database_url):
    with pytest.raises(ValueError, match="placeholder"):
        Settings(database_url=database_url, environment="dev", dev_api_key="changeme")
