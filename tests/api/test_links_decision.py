"""`POST /links/{id}/decision`: a steward's MANUAL MATCH or NO_MATCH, its golden-record
effects, history and events; stale versions, repeats and refusals."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from mpi_store.domain.enums import Scope
from mpi_store.models import Event

DEMOGRAPHIC_VALUES = ("Maria", "Gonzalez", "1984-03-12", "512-44-9087", "Elm", "Mary", "Oak")


def _link(client, source):
    (item,) = client.get("/links", params={"source": source}).json()["items"]
    return item


def _gray(client, make_record, moved):
    first = client.post("/records", json=make_record(source="FAC1")).json()
    second = client.post("/records", json=make_record(source="FAC2", **moved)).json()
    assert second["match_result"] == "POSSIBLE_MATCH"
    return first, second


def _events(session):
    """The event stream as written (the feed shows it once the test's transaction commits)."""
    rows = session.scalars(select(Event).order_by(Event.id))
    return [{"type": e.type, "mpi_id": e.mpi_id, "data": e.data} for e in rows]


def test_match_moves_the_record_and_merges_its_empty_patient(steward, session, make_record, moved):
    first, second = _gray(steward, make_record, moved)
    link = _link(steward, "FAC2")

    response = steward.post(
        f"/links/{link['id']}/decision",
        json={"match_result": "MATCH", "mpi_id": first["mpi_id"], "version": 1, "reason": "chart"},
    )

    assert response.status_code == 200, response.text
    decided = response.json()
    assert (decided["mpi_id"], decided["match_result"], decided["link_source"]) == (
        first["mpi_id"],
        "MATCH",
        "MANUAL",
    )
    assert (decided["link_state"], decided["version"], decided["waiting_for"]) == (
        "final",
        2,
        None,
    )
    patient = steward.get(f"/patients/{first['mpi_id']}").json()
    assert sorted(r["source"] for r in patient["records"]) == ["FAC1", "FAC2"]
    assert {"link_id": link["id"], "link_version": 2, "link_source": "MANUAL"}.items() <= next(
        r for r in patient["records"] if r["source"] == "FAC2"
    ).items()
    # Survivorship over both records: a tie goes to the newer one, the record just moved.
    assert patient["golden"]["given_name"] == "Mary"
    absorbed = steward.get(f"/patients/{second['mpi_id']}", follow_redirects=False)
    assert absorbed.status_code == 308
    assert absorbed.headers["location"] == f"/patients/{first['mpi_id']}"
    events = _events(session)
    updated = [e for e in events if e["type"] == "link.updated"][-1]
    assert updated["data"]["link_source"] == "MANUAL"
    assert updated["data"]["actor"] == "test"
    assert updated["data"]["previous_mpi_id"] == second["mpi_id"]
    assert updated["mpi_id"] == first["mpi_id"]
    assert {"type": "patient.merged", "mpi_id": second["mpi_id"]} in [
        {"type": e["type"], "mpi_id": e["mpi_id"]} for e in events
    ]


def test_no_match_splits_the_record_onto_a_new_patient(steward, session, make_record):
    first = steward.post("/records", json=make_record(source="FAC1")).json()
    second = steward.post("/records", json=make_record(source="FAC2", phone=None)).json()
    assert (second["match_result"], second["mpi_id"]) == ("MATCH", first["mpi_id"])
    link = _link(steward, "FAC2")

    response = steward.post(
        f"/links/{link['id']}/decision", json={"match_result": "NO_MATCH", "version": 1}
    )

    assert response.status_code == 200, response.text
    decided = response.json()
    assert decided["mpi_id"] != first["mpi_id"]
    assert (decided["match_result"], decided["link_source"], decided["link_state"]) == (
        "NO_MATCH",
        "MANUAL",
        "final",
    )
    assert decided["kept_apart_from"] == [first["mpi_id"]]
    left = steward.get(f"/patients/{first['mpi_id']}").json()
    new = steward.get(f"/patients/{decided['mpi_id']}").json()
    assert [r["source"] for r in left["records"]] == ["FAC1"]
    assert [r["source"] for r in new["records"]] == ["FAC2"]
    # The phone only the record that stayed had is the left patient's, not the new one's.
    assert "phone" in left["golden"]
    assert "phone" not in new["golden"]
    types = [e["type"] for e in _events(session)]
    assert "patient.created" in types[-4:]


def test_no_match_on_a_gray_record_keeps_it_apart_from_its_candidates(steward, make_record, moved):
    first, second = _gray(steward, make_record, moved)
    link = _link(steward, "FAC2")

    decided = steward.post(
        f"/links/{link['id']}/decision", json={"match_result": "NO_MATCH", "version": 1}
    ).json()

    assert decided["mpi_id"] == second["mpi_id"]
    assert decided["kept_apart_from"] == [first["mpi_id"]]
    assert decided["waiting_for"] is None


def test_a_stale_version_is_a_409_with_the_current_one(steward, make_record, moved):
    first, _ = _gray(steward, make_record, moved)
    link = _link(steward, "FAC2")
    steward.post(f"/links/{link['id']}/decision", json={"match_result": "NO_MATCH", "version": 1})

    response = steward.post(
        f"/links/{link['id']}/decision",
        json={"match_result": "MATCH", "mpi_id": first["mpi_id"], "version": 1},
    )

    assert response.status_code == 409
    body = response.json()
    assert (body["error"], body["current_version"]) == ("StaleVersion", 2)
    assert _link(steward, "FAC2")["match_result"] == "NO_MATCH"


def test_the_same_decision_again_changes_nothing(steward, session, make_record, moved):
    first, _ = _gray(steward, make_record, moved)
    link = _link(steward, "FAC2")
    body = {"match_result": "MATCH", "mpi_id": first["mpi_id"], "version": 1}
    steward.post(f"/links/{link['id']}/decision", json=body)
    events_before = _events(session)
    history_before = steward.get(f"/links/{link['id']}/history").json()["items"]

    again = steward.post(f"/links/{link['id']}/decision", json=body)

    assert again.status_code == 200
    assert again.json()["version"] == 2
    assert _events(session) == events_before
    assert steward.get(f"/links/{link['id']}/history").json()["items"] == history_before


def test_an_unknown_link_is_a_404(steward):
    response = steward.post(
        "/links/999999/decision", json={"match_result": "NO_MATCH", "version": 1}
    )

    assert response.status_code == 404
    assert response.json()["error"] == "LinkNotFound"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"match_result": "MATCH", "version": 1}, "mpi_id"),
        ({"match_result": "NO_MATCH", "mpi_id": "mpi_x", "version": 1}, "mpi_id"),
        ({"match_result": "POSSIBLE_MATCH", "version": 1}, "match_result"),
        ({"match_result": "NO_MATCH", "version": 0}, "version"),
        ({"match_result": "NO_MATCH"}, "version"),
        ({"match_result": "NO_MATCH", "version": 1, "extra": 1}, "extra"),
    ],
)
def test_bad_fields_are_refused_by_name_and_nothing_is_written(
    steward, make_record, moved, body, field
):
    _gray(steward, make_record, moved)
    link = _link(steward, "FAC2")

    response = steward.post(f"/links/{link['id']}/decision", json=body)

    assert response.status_code == 422
    assert field in [p["field"] for p in response.json()["detail"]]
    assert _link(steward, "FAC2") == link


def test_an_unknown_patient_is_a_404_naming_mpi_id(steward, make_record, moved):
    _gray(steward, make_record, moved)
    link = _link(steward, "FAC2")

    response = steward.post(
        f"/links/{link['id']}/decision",
        json={"match_result": "MATCH", "mpi_id": "mpi_nobody", "version": 1},
    )

    assert response.status_code == 404
    assert response.json()["detail"].startswith("mpi_id:")
    assert _link(steward, "FAC2") == link


def test_deciding_needs_the_links_write_scope(client, make_key, make_record, moved):
    _gray(client, make_record, moved)
    link = _link(client, "FAC2")
    client.headers["Authorization"] = f"Bearer {make_key([Scope.PATIENTS_READ])}"

    response = client.post(
        f"/links/{link['id']}/decision", json={"match_result": "NO_MATCH", "version": 1}
    )

    assert response.status_code == 403


def test_answers_errors_and_logs_carry_no_demographics(steward, make_record, moved, caplog):
    first, _ = _gray(steward, make_record, moved)
    link = _link(steward, "FAC2")
    caplog.set_level(logging.INFO)
    answers = [
        steward.post(
            f"/links/{link['id']}/decision",
            json={"match_result": "MATCH", "mpi_id": first["mpi_id"], "version": 1},
        ),
        steward.post(
            f"/links/{link['id']}/decision", json={"match_result": "NO_MATCH", "version": 1}
        ),
        steward.get(f"/links/{link['id']}/history"),
    ]

    assert f"link {link['id']}: MATCH by key 'test'" in caplog.text
    for answer in answers:
        for value in DEMOGRAPHIC_VALUES:
            assert value not in answer.text
            assert value not in caplog.text


def test_the_document_says_mpi_id_goes_with_match_only(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["LinkDecisionCreate"]

    match, no_match = schema["oneOf"]
    assert (match["properties"]["match_result"]["const"], match["required"]) == (
        "MATCH",
        ["mpi_id"],
    )
    assert no_match["not"] == {"required": ["mpi_id"]}
    assert set(schema["required"]) == {"match_result", "version"}
