"""GET /patients/{mpi_id}: survivorship, linked records, redirects."""

from __future__ import annotations

from sqlalchemy import select

from mpi_store.models import GoldenRecord


def test_golden_record_takes_the_most_frequent_value(client, make_record):
    first = client.post("/records", json=make_record(source="FAC1", city="Boston")).json()
    client.post("/records", json=make_record(source="FAC2", city="Boston"))
    client.post("/records", json=make_record(source="FAC3", city="Salem"))

    patient = client.get(f"/patients/{first['mpi_id']}").json()

    assert patient["golden"]["city"] == "Boston"
    assert patient["status"] == "active"
    assert [r["source"] for r in patient["records"]] == ["FAC1", "FAC2", "FAC3"]
    assert {r["match_result"] for r in patient["records"]} == {"NO_MATCH", "MATCH"}


def test_ties_go_to_the_most_recently_updated_record(client, make_record):
    first = client.post("/records", json=make_record(source="FAC1", phone="111")).json()
    client.post("/records", json=make_record(source="FAC2", phone="222"))

    patient = client.get(f"/patients/{first['mpi_id']}").json()

    assert patient["golden"]["phone"] == "222"


def test_missing_values_do_not_win(client, make_record):
    first = client.post("/records", json=make_record(source="FAC1", email=None)).json()
    client.post("/records", json=make_record(source="FAC2", email=None))
    client.post("/records", json=make_record(source="FAC3", email="m@example.org"))

    patient = client.get(f"/patients/{first['mpi_id']}").json()

    assert patient["golden"]["email"] == "m@example.org"


def test_unknown_patient_is_404(client):
    response = client.get("/patients/mpi_doesnotexist")

    assert response.status_code == 404
    assert response.json() == {"error": "PatientNotFound", "detail": "no patient with that mpi_id"}


def test_redirected_patient_answers_308_to_its_survivor(client, make_record, session, other_person):
    kept = client.post("/records", json=make_record(source="FAC1")).json()["mpi_id"]
    gone = client.post("/records", json=make_record(source="FAC2", **other_person)).json()["mpi_id"]
    absorbed = session.scalar(select(GoldenRecord).where(GoldenRecord.mpi_id == gone))
    survivor = session.scalar(select(GoldenRecord).where(GoldenRecord.mpi_id == kept))
    absorbed.status, absorbed.redirect_to = "redirected", survivor.id
    session.commit()

    response = client.get(f"/patients/{gone}", follow_redirects=False)
    followed = client.get(f"/patients/{gone}")

    assert response.status_code == 308
    assert response.headers["location"] == f"/patients/{kept}"
    assert response.json()["redirect_to"] == kept
    assert followed.status_code == 200
    assert followed.json()["mpi_id"] == kept
