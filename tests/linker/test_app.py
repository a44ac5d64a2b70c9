"""The linker's HTTP service: /features, /score, /model, /healthz, /metrics."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from mpi_linker.app import create_app
from mpi_linker.features import blocking_keys, features, record_features
from mpi_linker.settings import Settings


@pytest.fixture
def linker(database_url, session_factory):
    app = create_app(Settings(database_url=database_url))
    with TestClient(app) as client:
        app.state.session_factory = session_factory
        yield client


def test_score_with_an_empty_index_finds_nothing(linker):
    row = features({"given_name": "Ann", "family_name": "Lee", "birth_date": "1990-01-01"})

    response = linker.post("/score", json={"features": row, "blocking_keys": blocking_keys(row)})

    assert response.status_code == 200
    body = response.json()
    assert body["candidates"] == []
    assert body["candidates_found"] == 0
    assert body["model_version"].startswith("splink-")


def test_features_are_the_linkers_normalisation_keys_and_locks(linker):
    demographics = {
        "given_name": " Ann-Marie ",
        "family_name": "O'Lee",
        "birth_date": "1990-01-31",
        "sex": "female",
        "phone": "(413) 555-0100",
        "postcode": "01002-1234",
        "ssn": "512-44-7731",
    }
    # Codes no training record had (as rare as codes get), one of them twice.
    events = [
        {"type": "condition", "code_system": "http://snomed.info/sct", "code": f"99900{c}"}
        for c in ("1", "2", "3", "3")
    ]

    response = linker.post("/features", json={"demographics": demographics, "events": events})

    assert response.status_code == 200
    made = record_features({**demographics, "birth_date": dt.date(1990, 1, 31)}, events[:3])
    assert response.json() == {
        "features": made.features,
        "blocking_keys": made.blocking_keys,
        "lock_keys": made.lock_keys,
    }
    keys = response.json()["blocking_keys"]
    assert any(key.startswith("hist:") for key in keys)
    assert "ssn:512447731" in response.json()["lock_keys"]
    assert not any(key.startswith("hist:") for key in response.json()["lock_keys"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"demographics": {"birth_date": "1990-02-31"}}, ["body", "demographics", "birth_date"]),
        ({"demographics": {}, "events": [{"type": "condition"}]}, ["body", "events", 0, "code"]),
        ({"demographics": {"nickname": "Annie"}}, ["body", "demographics", "nickname"]),
    ],
)
def test_features_refuse_a_bad_record_naming_the_field(linker, body, field):
    response = linker.post("/features", json=body)

    assert response.status_code == 422
    assert [problem["loc"] for problem in response.json()["detail"]] == [field]


def test_score_rejects_unknown_fields(linker):
    response = linker.post("/score", json={"features": {}, "blocking_keys": [], "x": 1})

    assert response.status_code == 422


def test_model_card_and_thresholds(linker):
    body = linker.get("/model").json()

    assert 0 < body["reject_threshold"] <= body["auto_threshold"] <= 1
    assert "birth_date" in body["comparisons"]
    assert 0 < body["accept_alone_threshold"] < body["auto_threshold"]
    assert body["card"]["levels"]
    assert body["card"]["repairs"] is not None


def test_health_and_metrics(linker):
    row = features({"given_name": "Ann", "birth_date": "1990-01-01"})
    linker.post("/score", json={"features": row, "blocking_keys": blocking_keys(row)})

    assert linker.get("/healthz").json()["status"] == "ok"
    assert "mpi_linker_score_seconds_count 1.0" in linker.get("/metrics").text


def test_reload_serves_the_model_file_written_since(database_url, session_factory, tmp_path):
    from mpi_linker.model.artifact import load

    shipped = load()
    path = tmp_path / "model.json"
    path.write_text(shipped.to_json())
    app = create_app(Settings(database_url=database_url, model_path=path))
    with TestClient(app) as client:
        app.state.session_factory = session_factory
        assert client.get("/model").json()["version"] == shipped.version
        retrained = type(shipped)(
            version="splink-retrained", splink=shipped.splink, thresholds=shipped.thresholds
        )
        path.write_text(retrained.to_json())

        answer = client.post("/model/reload")

        assert answer.json() == {"model_version": "splink-retrained"}
        assert client.get("/model").json()["version"] == "splink-retrained"
        row = features({"given_name": "Ann", "family_name": "Lee", "birth_date": "1990-01-01"})
        scored = client.post("/score", json={"features": row, "blocking_keys": blocking_keys(row)})
        assert scored.json()["model_version"] == "splink-retrained"
