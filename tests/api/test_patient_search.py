"""`POST /patients/search`: golden records ranked by the linker's dry run, partial charts
included; nothing is written but the read audit's row."""

from __future__ import annotations

import jsonschema
import pytest
from sqlalchemy import func, select

from mpi_store.domain.enums import Scope
from mpi_store.models import (
    Adjudication,
    Event,
    GoldenRecord,
    Link,
    LinkerRecord,
    LinkHistory,
    Outbox,
    ReadAudit,
    SourceRecord,
)

FULL = {
    "given_name": "Maria",
    "middle_name": "Luisa",
    "family_name": "Gonzalez",
    "birth_date": "1984-03-12",
    "sex": "female",
    "address_line1": "12 Elm Street",
    "city": "Springfield",
    "postcode": "01103",
    "phone": "413-555-0123",
    "ssn": "512-44-9087",
}
# What a steward may hold of a paper chart, each combination one the linker's blocking keys
# reach (`mpi_linker.features.blocking_keys`).
PARTIAL_CHARTS = {
    "family name and birth date": {"family_name": "Gonzalez", "birth_date": "1984-03-12"},
    "given name and birth date": {"given_name": "Maria", "birth_date": "1984-03-12"},
    "given and family name": {"given_name": "Maria", "family_name": "Gonzalez"},
    "family name and sex": {"family_name": "Gonzalez", "sex": "female"},
    "birth date and postcode": {"birth_date": "1984-03-12", "postcode": "01103"},
    "ssn": {"ssn": "512-44-9087"},
    "phone": {"phone": "(413) 555-0123"},
    "street address and postcode": {"address_line1": "12 Elm St", "postcode": "01103"},
}
# Combinations no blocking key is built from: the linker finds no candidate to score.
UNREACHABLE = {
    "birth date alone": {"birth_date": "1984-03-12"},
    "family name alone": {"family_name": "Gonzalez"},
    "given name alone": {"given_name": "Maria"},
    "email alone": {"email": "maria@example.org"},
    "city and postcode": {"city": "Springfield", "postcode": "01103"},
}


@pytest.fixture
def two_patients(client, make_record, other_person):
    maria = client.post("/records", json=make_record()).json()["mpi_id"]
    other = client.post("/records", json=make_record(source="FAC2", **other_person)).json()
    return maria, other["mpi_id"]


def _search(client, **body):
    response = client.post("/patients/search", json=body)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_the_exact_copy_comes_first_as_certain_and_shaped_as_the_patient(client, two_patients):
    maria, _ = two_patients

    items = _search(client, **FULL)

    assert [item["mpi_id"] for item in items] == [maria]
    assert items[0]["grade"] == "certain"
    assert items[0]["tier"] == "auto"
    assert items[0]["probability"] > 0.99
    assert items[0]["match_weight"] > 0
    assert items[0]["patient"] == client.get(f"/patients/{maria}").json()


@pytest.mark.parametrize("chart", PARTIAL_CHARTS.values(), ids=PARTIAL_CHARTS.keys())
def test_a_partial_chart_finds_the_patient_first(client, two_patients, chart):
    maria, other = two_patients

    items = _search(client, **chart)

    assert items, "no candidate for this partial chart"
    assert items[0]["mpi_id"] == maria
    assert other not in [item["mpi_id"] for item in items]


@pytest.mark.parametrize("chart", UNREACHABLE.values(), ids=UNREACHABLE.keys())
def test_a_chart_no_blocking_key_covers_finds_nothing(client, two_patients, chart):
    assert _search(client, **chart) == []


def test_patients_are_ranked_by_score(client, make_record, moved):
    exact = client.post("/records", json=make_record()).json()["mpi_id"]
    gray = client.post("/records", json=make_record(source="FAC2", **moved)).json()["mpi_id"]
    assert exact != gray

    items = _search(client, given_name="Mary", family_name="Gonzales", birth_date="1985-03-21")

    assert [item["mpi_id"] for item in items] == [gray, exact]
    assert items[0]["probability"] > items[1]["probability"]


def test_an_integral_float_is_a_limit(client, two_patients):
    # JSON Schema's integer admits 46.0, and so does the search.
    response = client.post("/patients/search", json={"family_name": "Gonzalez", "limit": 46.0})

    assert response.status_code == 200


def test_limit_and_min_probability_cut_the_answer(client, make_record, moved):
    client.post("/records", json=make_record())
    client.post("/records", json=make_record(source="FAC2", **moved))
    query = {"given_name": "Mary", "family_name": "Gonzales", "birth_date": "1985-03-21"}
    everyone = _search(client, **query)

    assert len(_search(client, **query, limit=1)) == 1
    cut = everyone[0]["probability"]
    assert [i["mpi_id"] for i in _search(client, **query, min_probability=cut)] == [
        everyone[0]["mpi_id"]
    ]


def test_nothing_found_is_an_empty_list(client, two_patients):
    stranger = {"given_name": "Zebulon", "family_name": "Quirke", "birth_date": "1920-01-01"}

    assert _search(client, **stranger) == []


def _counts(session):
    tables = (SourceRecord, GoldenRecord, Link, LinkHistory, Event, Adjudication, Outbox)
    return {
        table.__tablename__: session.scalar(select(func.count()).select_from(table))
        for table in (*tables, LinkerRecord, ReadAudit)
    }


def test_a_search_writes_nothing_but_its_audit_row(client, two_patients, session):
    before = _counts(session)

    _search(client, **FULL)

    after = _counts(session)
    assert after.pop("read_audit") == before.pop("read_audit") + 1
    assert after == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"limit": 5}, "body"),
        ({"given_name": "  ", "birth_date": ""}, "body"),
        ({"family_name": "Gonzalez", "limit": 0}, "limit"),
        ({"family_name": "Gonzalez", "limit": 51}, "limit"),
        ({"family_name": "Gonzalez", "min_probability": 1.5}, "min_probability"),
        # A JSON boolean is not a number (the fuzz drill found `false` read as 0, `true` as 1).
        ({"family_name": "Gonzalez", "min_probability": False}, "min_probability"),
        ({"family_name": "Gonzalez", "limit": True}, "limit"),
        ({"family_name": "Gonzalez", "birth_date": "1984-02-30"}, "birth_date"),
        ({"family_name": "Gonzalez", "birth_date": "2999-01-01"}, "birth_date"),
        ({"family_name": "Gonzalez", "sex": "F"}, "sex"),
        ({"family_name": "Gonzalez", "mrn": "A1"}, "mrn"),
    ],
)
def test_a_bad_search_is_422_naming_the_field_without_its_value(client, body, field):
    response = client.post("/patients/search", json=body)

    assert response.status_code == 422
    assert response.json()["error"] == "InvalidRecord"
    assert field in [problem["field"] for problem in response.json()["detail"]]
    assert "Gonzalez" not in response.text
    assert "1984-02-30" not in response.text


def test_demographics_go_in_the_body_not_the_url(client):
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/patients/search"]["post"]

    assert "parameters" not in operation
    assert operation["operationId"] == "search_patients"


def test_the_document_asks_for_at_least_one_demographic_field(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["PatientSearch"]

    jsonschema.validate({"family_name": "Gonzalez", "limit": 5}, schema)
    # U+001D is blank to Python's strip (the validator) though not to JSON Schema's \s.
    blanks = ({}, {"limit": 5}, {"family_name": None}, {"family_name": " ", "limit": 5})
    for body in (*blanks, {"address_line2": "\u001d"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(body, schema)


def test_search_needs_the_read_scope(client, make_key):
    writer = make_key([Scope.RECORDS_WRITE])

    response = client.post(
        "/patients/search", json=FULL, headers={"Authorization": f"Bearer {writer}"}
    )

    assert response.status_code == 403
