"""`POST /fhir/Patient/$match`: graded golden Patients, a dry run that writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mpi_api.patients.ranking import grade
from mpi_linker.score.schemas import CandidateScore
from mpi_store.models import GoldenRecord, SourceRecord

GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"


def query(only_certain=None, count=None, **overrides):
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "Gonzalez", "given": ["Maria", "Luisa"]}],
        "gender": "female",
        "birthDate": "1984-03-12",
        "telecom": [{"system": "phone", "value": "413-555-0123"}],
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "512-44-9087"}],
        "address": [{"line": ["12 Elm Street"], "city": "Springfield", "postalCode": "01103"}],
    }
    patient.update(overrides)
    parameters = [{"name": "resource", "resource": patient}]
    if only_certain is not None:
        parameters.append({"name": "onlyCertainMatches", "valueBoolean": only_certain})
    if count is not None:
        parameters.append({"name": "count", "valueInteger": count})
    return {"resourceType": "Parameters", "parameter": parameters}


MOVED = {
    "name": [{"family": "Gonzales", "given": ["Mary"]}],
    "birthDate": "1985-03-21",
    "identifier": [],
    "telecom": [],
    "address": [{"line": ["7 Oak Avenue"], "city": "Boston", "postalCode": "02110"}],
}


def _grades(bundle):
    return [
        (entry["search"]["extension"][0]["valueCode"], entry["resource"]["id"])
        for entry in bundle["entry"]
    ]


def _stored(session):
    return (
        session.scalar(select(func.count()).select_from(SourceRecord)),
        session.scalar(select(func.count()).select_from(GoldenRecord)),
    )


def test_the_same_patient_is_a_certain_match_and_nothing_is_written(client, make_record, session):
    mpi_id = client.post("/records", json=make_record()).json()["mpi_id"]
    before = _stored(session)

    response = client.post("/fhir/Patient/$match", json=query())

    assert response.status_code == 200
    bundle = response.json()
    assert bundle["type"] == "searchset"
    assert _grades(bundle) == [("certain", mpi_id.replace("_", "-"))]
    assert bundle["entry"][0]["search"]["mode"] == "match"
    assert bundle["entry"][0]["search"]["score"] > 0.99
    assert _stored(session) == before


def test_a_gray_zone_patient_is_possible(client, make_record):
    mpi_id = client.post("/records", json=make_record()).json()["mpi_id"]

    bundle = client.post("/fhir/Patient/$match", json=query(**MOVED)).json()

    assert _grades(bundle) == [("possible", mpi_id.replace("_", "-"))]
    assert 0 < bundle["entry"][0]["search"]["score"] < 0.99


def test_only_certain_matches_leaves_out_the_rest(client, make_record):
    client.post("/records", json=make_record())

    certain = client.post("/fhir/Patient/$match", json=query(only_certain=True)).json()
    gray = client.post("/fhir/Patient/$match", json=query(only_certain=True, **MOVED)).json()

    assert [grade for grade, _ in _grades(certain)] == ["certain"]
    assert gray["total"] == 0
    assert gray["entry"] == []


def test_an_empty_store_matches_nothing(client):
    bundle = client.post("/fhir/Patient/$match", json=query()).json()

    assert bundle["total"] == 0


@pytest.mark.parametrize(
    ("body", "status", "expression"),
    [
        ({"resourceType": "Patient"}, 400, "Parameters.resourceType"),
        ({"resourceType": "Parameters", "parameter": []}, 422, "Parameters.parameter"),
        (query(birthDate="1984-02-30"), 422, "Parameters.parameter[0].resource.birthDate"),
        (query(gender="F"), 422, "Parameters.parameter[0].resource.gender"),
        (query(count=0), 422, "Parameters.parameter[1]"),
        (
            {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": {}}]},
            400,
            "Parameters.parameter[0].resource.resourceType",
        ),
    ],
)
def test_a_bad_query_names_the_element(client, body, status, expression):
    response = client.post("/fhir/Patient/$match", json=body)

    assert response.status_code == status
    issue = response.json()["issue"][0]
    assert issue["expression"] == [expression]
    assert "1984-02-30" not in response.text


def test_match_needs_the_read_scope(anonymous):
    response = anonymous.post("/fhir/Patient/$match", json=query())

    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


def test_an_auto_tier_patient_a_guard_stops_is_probable(client, make_record):
    """Address, phone and SSN agree but name and birth date do not: the linker scores it in
    the auto tier, the guards would send it to review, so it is not certain."""
    mpi_id = client.post("/records", json=make_record()).json()["mpi_id"]
    other_name = {"name": [{"family": "Gonzalez", "given": ["Ana"]}], "birthDate": "2001-07-07"}

    bundle = client.post("/fhir/Patient/$match", json=query(**other_name)).json()

    assert _grades(bundle) == [("probable", mpi_id.replace("_", "-"))]


@pytest.mark.parametrize(
    ("tier", "golden_id", "expected"),
    [
        ("auto", 1, "certain"),
        ("auto", 2, "probable"),
        ("gray", 2, "possible"),
        ("reject", 2, "certainly-not"),
    ],
)
def test_tiers_map_to_match_grades(tier, golden_id, expected):
    candidate = CandidateScore(
        record_id=7,
        golden_record_id=golden_id,
        mpi_id="mpi_x",
        match_probability=0.5,
        match_weight=0.0,
        tier=tier,
        comparisons={},
        blocking_key_kinds=[],
    )

    assert grade(candidate, certain=1) == expected
