"""PIXm `GET /fhir/Patient/$ihe-pix` (ITI-83): cross-references across facilities."""

from __future__ import annotations

import pytest

FAC1 = "urn:oid:2.16.840.1.113883.19.1"
FAC2 = "urn:oid:2.16.840.1.113883.19.2"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"fhir_mrn_systems": {FAC1: "FAC1", FAC2: "FAC2"}})


def test_every_identifier_of_the_patient_across_sources(client, make_record):
    mpi_id = client.post("/records", json=make_record(source="FAC1", source_record_id="A1")).json()[
        "mpi_id"
    ]
    client.post("/records", json=make_record(source="FAC2", source_record_id="B2"))

    body = client.get("/fhir/Patient/$ihe-pix", params={"sourceIdentifier": f"{FAC1}|A1"}).json()
    only_fac2 = client.get(
        "/fhir/Patient/$ihe-pix", params={"sourceIdentifier": f"{FAC1}|A1", "targetSystem": FAC2}
    ).json()

    assert body["resourceType"] == "Parameters"
    identifiers = [
        p["valueIdentifier"] for p in body["parameter"] if p["name"] == "targetIdentifier"
    ]
    assert sorted(i["value"] for i in identifiers) == ["A1", "B2"]
    assert {
        "name": "targetId",
        "valueReference": {"reference": f"Patient/{mpi_id.replace('_', '-')}"},
    } in body["parameter"]
    assert [
        p["valueIdentifier"] for p in only_fac2["parameter"] if p["name"] == "targetIdentifier"
    ] == [{"system": FAC2, "value": "B2"}]


def test_an_unknown_identifier_gives_no_parameters(client):
    body = client.get("/fhir/Patient/$ihe-pix", params={"sourceIdentifier": f"{FAC1}|NONE"}).json()

    assert body == {"resourceType": "Parameters"}


def test_a_system_that_is_no_facility_mrn_is_404(client):
    response = client.get("/fhir/Patient/$ihe-pix", params={"sourceIdentifier": "urn:x|A1"})

    assert response.status_code == 404
    assert response.json()["issue"][0]["expression"] == ["sourceIdentifier"]
