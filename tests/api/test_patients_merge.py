"""`POST /patients/{mpi_id}/merge`: a steward merges another patient into this one (preview,
conflicts and force, idempotency, refusals), with history and events."""

from __future__ import annotations

import logging

import jsonschema
import pytest
from sqlalchemy import func, select

from mpi_store.domain.enums import Scope
from mpi_store.models import Event, LinkHistory

DEMOGRAPHIC_VALUES = ("Maria", "Gonzalez", "1984-03-12", "512-44-9087", "Oluwaseun", "1951-11-30")


def _patients(client, make_record, other_person, **second):
    """Two patients sharing nothing; `second` overrides the other one's fields."""
    first = client.post("/records", json=make_record(source="FAC1")).json()
    body = make_record(source="FAC2", **{**other_person, **second})
    other = client.post("/records", json=body).json()
    assert other["mpi_id"] != first["mpi_id"]
    return first["mpi_id"], other["mpi_id"]


def _quiet(client, make_record, other_person):
    """Two patients whose records disagree on nothing a merge checks."""
    return _patients(client, make_record, other_person, ssn=None, birth_date=None)


def _events(session):
    return session.scalar(select(func.count()).select_from(Event))


def _merge(client, mpi_id, other, **body):
    return client.post(f"/patients/{mpi_id}/merge", json={"other_mpi_id": other, **body})


def test_merge_moves_the_others_records_here_and_redirects_it(
    steward, session, make_record, other_person
):
    survivor, absorbed = _quiet(steward, make_record, other_person)

    response = _merge(steward, survivor, absorbed, reason="same chart")

    assert response.status_code == 200, response.text
    merged = response.json()
    assert (merged["mpi_id"], merged["absorbed_mpi_id"], merged["preview"]) == (
        survivor,
        absorbed,
        False,
    )
    assert merged["conflicts"] == []
    patient = steward.get(f"/patients/{survivor}").json()
    assert sorted(r["source"] for r in patient["records"]) == ["FAC1", "FAC2"]
    moved = next(r for r in patient["records"] if r["source"] == "FAC2")
    assert (moved["match_result"], moved["link_source"]) == ("MATCH", "MANUAL")
    # Survivorship over both: a field one record has, and a tie the newer record wins.
    assert patient["golden"]["birth_date"] == "1984-03-12"
    assert patient["golden"]["given_name"] == "Oluwaseun"
    redirect = steward.get(f"/patients/{absorbed}", follow_redirects=False)
    assert redirect.status_code == 308
    assert redirect.headers["location"] == f"/patients/{survivor}"
    (revision,) = session.scalars(select(LinkHistory).where(LinkHistory.actor == "test"))
    assert revision.reason["note"] == "same chart"
    assert revision.reason["rule"] == "manual_merge"
    event = session.get(Event, merged["merge_id"])
    assert (event.type, event.mpi_id) == ("patient.merged", absorbed)
    assert event.data == {
        "redirect_to": survivor,
        "link_ids": [moved["link_id"]],
        "actor": "test",
    }


def test_preview_answers_the_golden_record_and_conflicts_and_writes_nothing(
    steward, session, make_record, other_person
):
    survivor, absorbed = _patients(
        steward,
        make_record,
        other_person,
        identifiers=[{"system": "urn:fac1:mrn", "value": "B2"}],
    )
    before = _events(session)

    response = _merge(steward, survivor, absorbed, preview=True)

    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["merge_id"] is None
    assert preview["golden"]["identifiers"] == [
        {"system": "urn:fac1:mrn", "value": "B2"},
        {"system": "urn:fac1:mrn", "value": "A1"},
    ]
    keys = [
        {"source": "FAC1", "source_record_id": "MRN000001"},
        {"source": "FAC2", "source_record_id": "MRN000002"},
    ]
    assert preview["conflicts"] == [
        {"field": "ssn", "system": None, "records": keys},
        {"field": "birth_date", "system": None, "records": keys},
        {"field": "identifiers", "system": "urn:fac1:mrn", "records": keys},
    ]
    assert _events(session) == before
    assert steward.get(f"/patients/{absorbed}", follow_redirects=False).status_code == 200
    assert session.scalar(select(func.count()).where(LinkHistory.actor.is_not(None))) == 0


def test_conflicts_refuse_the_merge_unless_forced_with_a_reason(
    steward, session, make_record, other_person
):
    survivor, absorbed = _patients(steward, make_record, other_person)
    before = _events(session)

    refused = _merge(steward, survivor, absorbed)
    no_reason = _merge(steward, survivor, absorbed, force=True, reason="  ")

    assert refused.status_code == 409
    body = refused.json()
    assert body["error"] == "MergeConflict"
    assert {c["field"] for c in body["conflicts"]} == {"ssn", "birth_date"}
    assert no_reason.status_code == 422
    assert [p["field"] for p in no_reason.json()["detail"]] == ["reason"]
    assert _events(session) == before
    forced = _merge(steward, survivor, absorbed, force=True, reason="twin charts, checked")
    assert forced.status_code == 200, forced.text
    assert {c["field"] for c in forced.json()["conflicts"]} == {"ssn", "birth_date"}
    assert session.get(Event, forced.json()["merge_id"]).data["forced"] is True


def test_merging_an_absorbed_id_into_its_survivor_again_changes_nothing(
    steward, session, make_record, other_person
):
    survivor, absorbed = _quiet(steward, make_record, other_person)
    first = _merge(steward, survivor, absorbed).json()
    before = _events(session)

    again = _merge(steward, survivor, absorbed)

    assert again.status_code == 200
    assert again.json()["merge_id"] == first["merge_id"]
    assert _events(session) == before


def test_the_same_merge_asked_the_other_way_round_answers_it_again(
    steward, session, make_record, other_person
):
    survivor, absorbed = _quiet(steward, make_record, other_person)
    first = _merge(steward, survivor, absorbed).json()
    before = _events(session)

    # A steward who asked to keep `absorbed` while another kept `survivor`: they are one
    # patient already, so the merge that made them one answers (no redirect to a self-merge).
    again = _merge(steward, absorbed, survivor)

    assert again.status_code == 200
    assert (again.json()["merge_id"], again.json()["mpi_id"]) == (first["merge_id"], survivor)
    assert _events(session) == before


def test_a_merged_path_id_redirects_to_the_survivors_merge(steward, make_record, other_person):
    survivor, absorbed = _quiet(steward, make_record, other_person)
    _merge(steward, survivor, absorbed)
    third = steward.post("/records", json=make_record(source="FAC3", **other_person)).json()

    response = steward.post(
        f"/patients/{absorbed}/merge",
        json={"other_mpi_id": third["mpi_id"], "preview": True},
        follow_redirects=False,
    )

    assert response.status_code == 308
    assert response.headers["location"] == f"/patients/{survivor}/merge"
    assert response.json()["redirect_to"] == survivor


def test_refusals_name_the_field(steward, make_record, other_person):
    survivor, _ = _quiet(steward, make_record, other_person)

    itself = _merge(steward, survivor, survivor)
    unknown_other = _merge(steward, survivor, "mpi_nobody")
    unknown_path = _merge(steward, "mpi_nobody", survivor)

    assert (itself.status_code, itself.json()["error"]) == (422, "InvalidInput")
    assert itself.json()["detail"].startswith("other_mpi_id:")
    assert (unknown_other.status_code, unknown_other.json()["error"]) == (404, "PatientNotFound")
    assert unknown_other.json()["detail"].startswith("other_mpi_id:")
    assert (unknown_path.status_code, unknown_path.json()["detail"]) == (
        404,
        "mpi_id: names no patient",
    )


def test_merging_needs_the_links_write_scope(client, make_key, make_record, other_person):
    survivor, absorbed = _quiet(client, make_record, other_person)
    client.headers["Authorization"] = f"Bearer {make_key([Scope.PATIENTS_READ])}"

    assert _merge(client, survivor, absorbed).status_code == 403


def test_answers_and_logs_carry_no_demographics(steward, make_record, other_person, caplog):
    survivor, absorbed = _patients(steward, make_record, other_person)
    caplog.set_level(logging.DEBUG)

    answers = [
        _merge(steward, survivor, absorbed),
        _merge(steward, survivor, absorbed, force=True),
        _merge(steward, survivor, survivor),
        steward.post(f"/patients/{survivor}/merge", content=b"{", headers={"Content-Type": "a"}),
        _merge(steward, survivor, absorbed, force=True, reason="checked"),
    ]

    assert [a.status_code for a in answers[:3]] == [409, 422, 422]
    assert answers[-1].status_code == 200
    for text in [a.text for a in answers[:-1]] + [caplog.text]:
        for value in DEMOGRAPHIC_VALUES:
            assert value not in text


def test_the_document_shows_the_conflicts_of_a_refused_merge(client):
    document = client.get("/openapi.json").json()
    responses = document["paths"]["/patients/{mpi_id}/merge"]["post"]["responses"]

    schema = responses["409"]["content"]["application/json"]["schema"]["$ref"]
    assert schema == "#/components/schemas/MergeConflictRead"
    assert "308" in responses
    assert "patient.unmerged" in document["paths"]["/events"]["get"]["description"]


def test_the_document_says_force_needs_a_reason(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["MergeCreate"]

    jsonschema.validate({"other_mpi_id": "mpi_x", "force": True, "reason": "checked"}, schema)
    for refused in (
        {"force": True},
        {"force": True, "reason": " "},
        {"force": True, "reason": None},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"other_mpi_id": "mpi_x", **refused}, schema)
