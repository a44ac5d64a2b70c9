"""`/fhir/Patient`: create, conditional update, read, search, and refusals as OperationOutcome."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mpi_api.fhir.patient import mpi_id_of
from mpi_store.domain.enums import Scope
from mpi_store.models import GoldenRecord

FAC1 = "urn:oid:2.16.840.1.113883.19.1"
FAC2 = "urn:oid:2.16.840.1.113883.19.2"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"fhir_mrn_systems": {FAC1: "FAC1", FAC2: "FAC2"}})


@pytest.fixture
def patient():
    def make(mrn="A100", system=FAC1, **overrides):
        body = {
            "resourceType": "Patient",
            "identifier": [
                {"system": system, "value": mrn},
                {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "512-44-9087"},
            ],
            "name": [{"use": "official", "family": "Gonzalez", "given": ["Maria", "Luisa"]}],
            "gender": "female",
            "birthDate": "1984-03-12",
            "telecom": [{"system": "phone", "value": "413-555-0123"}],
            "address": [
                {
                    "line": ["12 Elm Street"],
                    "city": "Springfield",
                    "state": "MA",
                    "postalCode": "01103",
                }
            ],
        }
        body.update(overrides)
        return body

    return make


def _issue(response):
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


def test_create_stores_the_record_and_answers_the_golden_patient(client, patient):
    response = client.post("/fhir/Patient", json=patient())

    assert response.status_code == 201
    golden = response.json()
    assert response.headers["location"] == f"/fhir/Patient/{golden['id']}"
    assert golden["name"] == [{"family": "Gonzalez", "given": ["Maria", "Luisa"]}]
    assert golden["birthDate"] == "1984-03-12"
    assert golden["link"] == [
        {
            "type": "seealso",
            "other": {"type": "Patient", "identifier": {"system": FAC1, "value": "A100"}},
        }
    ]
    stored = client.get("/records/FAC1/A100").json()
    assert {"system": "urn:mpi:mpi-id", "value": stored["mpi_id"]} in golden["identifier"]
    assert stored["ssn"] == "512-44-9087"
    assert stored["given_name"] == "Maria"
    assert stored["middle_name"] == "Luisa"


def test_replay_is_200_with_the_same_patient(client, patient):
    first = client.post("/fhir/Patient", json=patient()).json()
    again = client.post("/fhir/Patient", json=patient())

    assert again.status_code == 200
    assert again.json()["id"] == first["id"]


def test_same_person_at_two_facilities_links_both_source_patients(client, patient):
    first = client.post("/fhir/Patient", json=patient()).json()
    second = client.post("/fhir/Patient", json=patient(mrn="B7", system=FAC2)).json()

    assert second["id"] == first["id"]
    read = client.get(f"/fhir/Patient/{first['id']}").json()
    assert {link["other"]["identifier"]["system"] for link in read["link"]} == {FAC1, FAC2}
    assert {link["type"] for link in read["link"]} == {"seealso"}


def test_conditional_update_creates_then_updates(client, patient):
    created = client.put("/fhir/Patient", params={"identifier": f"{FAC1}|A100"}, json=patient())
    moved = patient(address=[{"line": ["7 Oak Avenue"], "city": "Boston", "postalCode": "02110"}])
    updated = client.put("/fhir/Patient", params={"identifier": f"{FAC1}|A100"}, json=moved)

    assert created.status_code == 201
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert client.get("/records/FAC1/A100").json()["city"] == "Boston"


@pytest.mark.parametrize(
    "identifier",
    ["A100", "http://hl7.org/fhir/sid/us-ssn|512-44-9087", f"{FAC1}|", "urn:other|A100"],
)
def test_conditional_update_that_names_no_single_record_is_412(client, patient, identifier):
    response = client.put("/fhir/Patient", params={"identifier": identifier}, json=patient())

    assert response.status_code == 412
    assert _issue(response)["expression"] == ["identifier"]
    assert client.get("/records/FAC1/A100").status_code == 404


def test_conditional_update_for_another_record_is_400(client, patient):
    response = client.put("/fhir/Patient", params={"identifier": f"{FAC1}|OTHER"}, json=patient())

    assert response.status_code == 400
    assert _issue(response)["expression"] == ["Patient.identifier"]


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        ({"gender": "F"}, "Patient.gender"),
        ({"birthDate": "1984-13-40"}, "Patient.birthDate"),
        ({"birthDate": "2999-01-01"}, "Patient.birthDate"),
        ({"name": [{"given": [7]}]}, "Patient.name[0].given[0]"),
        ({"nickname": "Mia"}, "Patient"),
        ({"identifier": [{"system": "urn:other", "value": "A100"}]}, "Patient.identifier"),
        ({"resourceType": "Observation"}, "Patient.resourceType"),
    ],
)
def test_invalid_patient_names_the_element_and_not_its_value(client, patient, change, expression):
    response = client.post("/fhir/Patient", json=patient(**change))

    assert response.status_code in (400, 422)
    found = _issue(response)
    assert found["expression"] == [expression]
    for value in ("1984-13-40", "2999-01-01", "Mia", "Gonzalez", "A100"):
        assert value not in response.text
    assert client.get("/records/FAC1/A100").status_code == 404


def test_body_that_is_not_json_is_400(client):
    response = client.post(
        "/fhir/Patient", content=b"{nope", headers={"Content-Type": "application/fhir+json"}
    )

    assert response.status_code == 400
    assert _issue(response)["code"] == "invalid"


def test_missing_key_is_401_and_wrong_scope_403(anonymous, make_key, patient):
    reader = {"Authorization": f"Bearer {make_key([Scope.PATIENTS_READ])}"}
    other_source = {"Authorization": f"Bearer {make_key([Scope.RECORDS_WRITE], ['FAC2'])}"}

    assert _issue(anonymous.post("/fhir/Patient", json=patient()))["code"] == "login"
    assert anonymous.post("/fhir/Patient", json=patient()).status_code == 401
    assert anonymous.post("/fhir/Patient", json=patient(), headers=reader).status_code == 403
    refused = anonymous.post("/fhir/Patient", json=patient(), headers=other_source)
    assert refused.status_code == 403
    assert _issue(refused)["code"] == "forbidden"


def test_unknown_patient_is_404(client):
    response = client.get("/fhir/Patient/nope")

    assert response.status_code == 404
    assert _issue(response)["code"] == "not-found"


def test_merged_patient_is_replaced_by_its_survivor(client, patient, session, other_person):
    kept = client.post("/fhir/Patient", json=patient()).json()["id"]
    stranger = patient(
        mrn="Z9",
        system=FAC2,
        name=[{"family": "Abernathy", "given": ["Oluwaseun"]}],
        gender="male",
        birthDate="1951-11-30",
        identifier=[{"system": FAC2, "value": "Z9"}],
        telecom=[],
        address=[{"line": ["990 Harbor Road"], "city": "Gloucester", "postalCode": "01930"}],
    )
    gone = client.post("/fhir/Patient", json=stranger).json()["id"]
    assert gone != kept
    absorbed = session.scalar(select(GoldenRecord).where(GoldenRecord.mpi_id == mpi_id_of(gone)))
    survivor = session.scalar(select(GoldenRecord).where(GoldenRecord.mpi_id == mpi_id_of(kept)))
    absorbed.status, absorbed.redirect_to = "redirected", survivor.id
    session.commit()

    response = client.get(f"/fhir/Patient/{gone}")

    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.json()["link"] == [
        {"type": "replaced-by", "other": {"reference": f"Patient/{kept}"}}
    ]


def test_search_by_identifier_answers_a_searchset(client, patient):
    mpi_id = client.post("/fhir/Patient", json=patient()).json()["id"]

    found = client.get("/fhir/Patient", params={"identifier": f"{FAC1}|A100"}).json()
    missing = client.get("/fhir/Patient", params={"identifier": f"{FAC1}|NONE"}).json()

    assert found["type"] == "searchset"
    assert found["total"] == 1
    assert found["entry"][0]["resource"]["id"] == mpi_id
    assert missing["total"] == 0
    assert missing["entry"] == []


def test_search_without_identifier_is_400(client):
    response = client.get("/fhir/Patient")

    assert response.status_code == 400
    assert _issue(response)["expression"] == ["identifier"]


def test_every_fhir_refusal_is_documented_as_an_operation_outcome(client):
    paths = client.get("/openapi.json").json()["paths"]
    operations = [
        op
        for path, ops in paths.items()
        # The CapabilityStatement needs no key and refuses nothing.
        if path.startswith("/fhir") and path != "/fhir/metadata"
        for op in ops.values()
    ]

    assert len(operations) == 7
    for operation in operations:
        refs = {
            response["content"]["application/fhir+json"]["schema"]["$ref"]
            for status, response in operation["responses"].items()
            if status.startswith(("4", "5"))
        }
        assert refs == {"#/components/schemas/OperationOutcomeRead"}


def test_metadata_lists_what_is_implemented(anonymous):
    statement = anonymous.get("/fhir/metadata").json()

    assert statement["resourceType"] == "CapabilityStatement"
    (rest,) = statement["rest"]
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert {i["code"] for i in patient["interaction"]} == {
        "read",
        "create",
        "update",
        "search-type",
    }
    assert {o["name"] for o in patient["operation"]} == {"match", "ihe-pix"}
    assert rest["interaction"] == [{"code": "transaction"}]
