"""Bad input: 4xx naming the field, nothing written, no demographic value echoed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from mpi_store.models import GoldenRecord, SourceRecord


def _nothing_written(session) -> bool:
    return (
        session.scalar(select(func.count()).select_from(SourceRecord)) == 0
        and session.scalar(select(func.count()).select_from(GoldenRecord)) == 0
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"birth_date": "2023-02-30"}, "birth_date"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"birth_date": "12/03/1984"}, "birth_date"),
        ({"sex": "F"}, "sex"),
        ({"source": ""}, "source"),
        ({"source_record_id": "   "}, "source_record_id"),
        ({"given_name": 42}, "given_name"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
        ({"identifiers": [{"system": "x"}]}, "identifiers.0.value"),
        ({"clinical": {"conditions": [{"onset": "2020-13-01"}]}}, "clinical.conditions.0.onset"),
        ({"clinical": {"vitals": []}}, "clinical.vitals"),
        ({"family_name": "Zede\x00kiah"}, "family_name"),
        ({"source_record_id": "NUL\x00-1"}, "source_record_id"),
        ({"identifiers": [{"system": "x", "value": "A\x001"}]}, "identifiers.0.value"),
        (
            {"clinical": {"conditions": [{"display": "Dia\x00betes"}]}},
            "clinical.conditions.0.display",
        ),
        ({"clinical": {"observations": [{"value": "high\x00"}]}}, "clinical.observations.0.value"),
        # Found by `mpi drill`'s fuzz: a number was read as seconds since 1970.
        ({"birth_date": 0}, "birth_date"),
        ({"clinical": {"immunizations": [{"date": 0}]}}, "clinical.immunizations.0.date"),
        ({"clinical": {"encounters": [{"start": 1.5}]}}, "clinical.encounters.0.start"),
        (
            {"clinical": {"observations": [{"value": "0" * 201}]}},
            "clinical.observations.0.value.constrained-str",
        ),
    ],
)
def test_invalid_field_is_named(client, make_record, session, overrides, field):
    body = {**make_record(given_name="Zebulon", ssn="512-44-9087"), **overrides}

    response = client.post("/records", json=body)

    assert response.status_code == 422
    assert response.json()["error"] == "InvalidRecord"
    assert field in [problem["field"] for problem in response.json()["detail"]]
    assert "Zebulon" not in response.text
    assert "512-44-9087" not in response.text
    assert _nothing_written(session)


def test_lone_surrogate_is_named(client, make_record, session):
    body = json.dumps(make_record(city="CITY")).replace("CITY", "\\ud800")

    response = client.post("/records", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 422
    assert [problem["field"] for problem in response.json()["detail"]] == ["city"]
    assert _nothing_written(session)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/records/A%00/B", "path.source"),
        ("/records/A/B%00", "path.source_record_id"),
        ("/patients/mpi%00x", "path.mpi_id"),
    ],
)
def test_nul_in_a_path_parameter_is_named(client, path, field):
    response = client.get(path)

    assert response.status_code == 422
    assert response.json()["error"] == "InvalidRequest"
    assert [problem["field"] for problem in response.json()["detail"]] == [field]


def test_missing_required_fields(client, session):
    response = client.post("/records", json={"given_name": "Zebulon"})

    fields = {problem["field"] for problem in response.json()["detail"]}
    assert response.status_code == 422
    assert fields == {"source", "source_record_id"}
    assert _nothing_written(session)


def test_malformed_json(client, session):
    response = client.post(
        "/records",
        content=b'{"source": "FAC1", "given_name": "Zebulon",',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert "Zebulon" not in response.text
    assert _nothing_written(session)


def test_body_over_the_limit_is_413(client, make_record, session):
    body = make_record(clinical={"conditions": [{"display": "x" * 400}] * 3000})

    response = client.post("/records", json=body)

    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLarge"
    assert _nothing_written(session)


def test_streamed_body_over_the_limit_is_413(client, session):
    def chunks():
        yield b'{"source": "FAC1", "source_record_id": "A1", "given_name": "'
        for _ in range(1100):
            yield b"x" * 1024
        yield b'"}'

    response = client.post(
        "/records", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert _nothing_written(session)


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/events?after=9223372036854775808", "query.after"),
        ("GET", "/adjudications?after=9223372036854775808", "query.after"),
        ("POST", "/adjudications/9223372036854775808/requeue", "path.adjudication_id"),
    ],
)
def test_an_id_past_64_bits_is_named(client, method, path, field):
    response = client.request(method, path)

    assert response.status_code == 422
    assert [problem["field"] for problem in response.json()["detail"]] == [field]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_non_finite_observation_value_is_named(client, make_record, session, number):
    body = make_record(clinical={"observations": [{"value": "VALUE"}]})
    content = json.dumps(body).replace('"VALUE"', number)

    response = client.post(
        "/records", content=content, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    fields = [problem["field"] for problem in response.json()["detail"]]
    assert fields
    assert all(field.startswith("clinical.observations.0.value") for field in fields)
    assert _nothing_written(session)
