"""`GET /patients?identifier=SYSTEM|VALUE` (and FHIR's `GET /Patient?identifier=`, which
resolves identifiers the same way): the patients holding a record with that identifier."""

from __future__ import annotations

import pytest

from mpi_store.domain.enums import Scope

FAC1 = "urn:oid:2.16.840.1.113883.19.1"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"fhir_mrn_systems": {FAC1: "FAC1"}})


def _find(client, identifier):
    response = client.get("/patients", params={"identifier": identifier})
    assert response.status_code == 200, response.text
    return [patient["mpi_id"] for patient in response.json()["items"]]


def test_a_facility_mrn_names_its_record_s_patient(client, make_record):
    stored = client.post("/records", json=make_record(source_record_id="MRN-7")).json()

    assert _find(client, f"{FAC1}|MRN-7") == [stored["mpi_id"]]
    assert _find(client, "urn:mpi:source:FAC1|MRN-7") == [stored["mpi_id"]]


def test_the_answer_is_the_patient_as_read(client, make_record):
    mpi_id = client.post("/records", json=make_record(source_record_id="MRN-7")).json()["mpi_id"]

    response = client.get("/patients", params={"identifier": f"{FAC1}|MRN-7"})

    assert response.json() == {"items": [client.get(f"/patients/{mpi_id}").json()]}


def test_another_system_is_looked_up_in_the_records_identifiers(client, make_record, other_person):
    shared = [{"system": "urn:state:dl", "value": "D-1"}]
    first = client.post("/records", json=make_record(identifiers=shared)).json()["mpi_id"]
    second = client.post(
        "/records", json=make_record(source="FAC2", **{**other_person, "identifiers": shared})
    ).json()["mpi_id"]
    assert first != second

    assert _find(client, "urn:state:dl|D-1") == [first, second]
    assert _find(client, "urn:state:dl|D-2") == []
    assert _find(client, "urn:other|D-1") == []


def test_a_patient_with_several_such_records_is_answered_once(client, make_record):
    first = client.post("/records", json=make_record()).json()
    second = client.post("/records", json=make_record(source="FAC2")).json()
    assert first["mpi_id"] == second["mpi_id"]

    assert _find(client, "urn:fac1:mrn|A1") == [first["mpi_id"]]


def test_an_unknown_identifier_is_an_empty_list(client):
    assert _find(client, f"{FAC1}|NOBODY") == []
    assert _find(client, "urn:mpi:source:NOWHERE|1") == []


@pytest.mark.parametrize(
    "identifier", ["MRN-7", "|MRN-7", f"{FAC1}|", "", "0" * 300, f"{FAC1}|{'7' * 151}"]
)
def test_a_bad_identifier_is_422_naming_it(client, identifier):
    response = client.get("/patients", params={"identifier": identifier})

    assert response.status_code == 422
    assert [p["field"] for p in response.json()["detail"]] == ["query.identifier"]
    assert "MRN-7" not in response.text


def test_the_identifier_is_required(client):
    response = client.get("/patients")

    assert response.status_code == 422
    assert [p["field"] for p in response.json()["detail"]] == ["query.identifier"]


def test_lookup_needs_the_read_scope(client, make_key):
    writer = make_key([Scope.RECORDS_WRITE])

    response = client.get(
        "/patients",
        params={"identifier": f"{FAC1}|MRN-7"},
        headers={"Authorization": f"Bearer {writer}"},
    )

    assert response.status_code == 403


def test_fhir_search_finds_another_system_too(client, make_record):
    mpi_id = client.post(
        "/records", json=make_record(identifiers=[{"system": "urn:state:dl", "value": "D-1"}])
    ).json()["mpi_id"]

    bundle = client.get("/fhir/Patient", params={"identifier": "urn:state:dl|D-1"}).json()

    assert bundle["total"] == 1
    assert bundle["entry"][0]["resource"]["id"] == mpi_id.replace("_", "-")
