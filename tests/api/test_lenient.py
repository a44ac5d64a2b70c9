"""Lenient intake (issue 15, row 11): a legacy feed's record with an impossible optional value
is stored with that field dropped, linked on the rest, and answered with `warnings`; strict
stays the default."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from mpi_store.domain.enums import Scope
from mpi_store.models import SourceRecord

BAD_DATE = "1942-06-58"


@pytest.fixture
def lenient_client(client, make_key):
    client.headers["Authorization"] = (
        f"Bearer {make_key([Scope.RECORDS_WRITE, Scope.PATIENTS_READ], lenient=True)}"
    )
    return client


def _stored(session):
    return session.scalar(select(func.count()).select_from(SourceRecord))


def test_strict_is_the_default_and_refuses_the_record_whole(client, make_record, session):
    answer = client.post("/records", json=make_record(birth_date=BAD_DATE))

    assert answer.status_code == 422
    assert [p["field"] for p in answer.json()["detail"]] == ["birth_date"]
    assert _stored(session) == 0


def test_a_lenient_key_stores_the_record_without_the_bad_field(lenient_client, make_record):
    body = make_record(source_record_id="L1", birth_date=BAD_DATE)

    answer = lenient_client.post("/records", json=body)

    assert answer.status_code == 201
    (warning,) = answer.json()["warnings"]
    assert warning["field"] == "birth_date"
    assert BAD_DATE not in answer.text
    stored = lenient_client.get("/records/FAC1/L1").json()
    assert stored["birth_date"] is None
    assert stored["family_name"] == body["family_name"]
    assert stored["dropped_values"] == {"birth_date": BAD_DATE}
    assert stored["mpi_id"] == answer.json()["mpi_id"]


def test_the_rest_of_the_record_still_links(lenient_client, make_record):
    good = lenient_client.post("/records", json=make_record(source="FAC1", source_record_id="G1"))
    bad = lenient_client.post(
        "/records",
        json=make_record(source="FAC2", source_record_id="B1", birth_date=BAD_DATE),
    )

    assert bad.status_code == 201
    assert bad.json()["mpi_id"] == good.json()["mpi_id"]


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"lenient_sources": ["LEGACY"]})


def test_a_lenient_source_is_configured_by_setting(client, make_record):
    lenient = client.post("/records", json=make_record(source="LEGACY", sex="martian"))
    strict = client.post("/records", json=make_record(source="FAC1", birth_date=BAD_DATE))

    assert lenient.status_code == 201
    assert [w["field"] for w in lenient.json()["warnings"]] == ["sex"]
    assert strict.status_code == 422


def test_an_invalid_key_or_clinical_item_still_refuses_the_record(
    lenient_client, make_record, session
):
    bad_id = make_record(source_record_id="x" * 500, birth_date=BAD_DATE)
    bad_clinical = make_record(clinical={"conditions": [{"code": "x", "onset": "not-a-date"}]})
    unknown = {**make_record(), "favourite_colour": "green"}

    for body in (bad_id, bad_clinical, unknown):
        assert lenient_client.post("/records", json=body).status_code == 422
    assert _stored(session) == 0


def test_replays_are_idempotent_and_a_fix_clears_the_dropped_value(lenient_client, make_record):
    body = make_record(source_record_id="R1", birth_date=BAD_DATE)
    first = lenient_client.post("/records", json=body)
    replay = lenient_client.post("/records", json=body)
    other_typo = lenient_client.post("/records", json={**body, "birth_date": "1942-13-01"})
    fixed = lenient_client.post("/records", json={**body, "birth_date": "1942-06-28"})

    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json()["record_version"] == 1
    assert other_typo.json()["record_version"] == 2
    assert fixed.json()["warnings"] == []
    stored = lenient_client.get("/records/FAC1/R1").json()
    assert stored["birth_date"] == "1942-06-28"
    assert stored["dropped_values"] is None
    assert len({a.json()["mpi_id"] for a in (first, replay, other_typo, fixed)}) == 1


def test_unstorable_characters_are_kept_escaped(lenient_client, make_record):
    answer = lenient_client.post(
        "/records", json=make_record(source_record_id="N1", middle_name="Lu\x00isa")
    )

    assert answer.status_code == 201
    stored = lenient_client.get("/records/FAC1/N1").json()
    assert stored["middle_name"] is None
    assert stored["dropped_values"] == {"middle_name": "Lu\\x00isa"}


def test_dropped_values_are_never_logged(lenient_client, make_record, caplog):
    caplog.set_level(logging.DEBUG)

    lenient_client.post("/records", json=make_record(birth_date=BAD_DATE, postcode="9" * 30))

    assert BAD_DATE not in caplog.text
    assert "9" * 30 not in caplog.text


def test_the_openapi_document_still_describes_the_record_body(client):
    document = client.get("/openapi.json").json()
    body = document["paths"]["/records"]["post"]["requestBody"]["content"]["application/json"]

    assert body["schema"]["$ref"] == "#/components/schemas/RecordCreate"
    assert "birth_date" in document["components"]["schemas"]["RecordCreate"]["properties"]
    assert "warnings" in document["components"]["schemas"]["RecordLinkRead"]["properties"]
