"""A changed record is decided again: `POST /records` with a known key and new content."""

from __future__ import annotations

from sqlalchemy import func, select

from mpi_store.models import Adjudication, Event, LinkHistory, Outbox


def _link(client, source):
    (item,) = client.get("/links", params={"source": source}).json()["items"]
    return item


def _last_revision(client, link):
    return client.get(f"/links/{link['id']}/history").json()["items"][-1]


def test_a_record_that_now_matches_another_patient_moves_to_it(
    client, session, make_record, other_person
):
    maria = client.post("/records", json=make_record(source="FAC1")).json()
    other = make_record(source="FAC2", source_record_id="B1", **other_person)
    founded = client.post("/records", json=other).json()
    assert founded["mpi_id"] != maria["mpi_id"]

    # The registration desk corrects the record: it was Maria's all along.
    corrected = client.post("/records", json=make_record(source="FAC2", source_record_id="B1"))

    assert corrected.status_code == 200
    body = corrected.json()
    assert (body["mpi_id"], body["match_result"], body["record_version"]) == (
        maria["mpi_id"],
        "MATCH",
        2,
    )
    revision = _last_revision(client, _link(client, "FAC2"))
    assert revision["reason"]["trigger"] == "record_updated"
    assert revision["reason"]["record_version"] == 2
    assert revision["previous_mpi_id"] == founded["mpi_id"]
    # The patient it left empty redirects to where its record went, as a merge makes it.
    left = client.get(f"/patients/{founded['mpi_id']}", follow_redirects=False)
    assert left.status_code == 308
    assert maria["mpi_id"] in left.headers["location"]
    kinds = session.scalars(select(Event.type).order_by(Event.id)).all()
    assert kinds[-2:] == ["link.updated", "patient.merged"]


def test_a_record_that_no_longer_resembles_its_patient_leaves_it(client, make_record, other_person):
    maria = client.post("/records", json=make_record(source="FAC1")).json()
    second = client.post("/records", json=make_record(source="FAC2", source_record_id="B1"))
    assert second.json()["mpi_id"] == maria["mpi_id"]

    wrong = make_record(source="FAC2", source_record_id="B1", **other_person)
    body = client.post("/records", json=wrong).json()

    assert body["mpi_id"] != maria["mpi_id"]
    assert (body["match_result"], body["link_state"]) == ("NO_MATCH", "final")
    patient = client.get(f"/patients/{maria['mpi_id']}").json()
    assert [r["source"] for r in patient["records"]] == ["FAC1"]
    assert patient["golden"]["family_name"] == "Gonzalez"


def test_a_record_that_now_scores_with_two_patients_is_adjudicated_against_both(
    client, session, make_record, other_person
):
    """Two copies of Maria from one source are two patients (a source never sends one person
    twice); a third record changed to Maria bridges them: it waits for the worker with a pair
    against each, never joins one silently."""
    first = client.post("/records", json=make_record(source="FAC1")).json()
    twin = client.post("/records", json=make_record(source="FAC1")).json()
    assert twin["mpi_id"] != first["mpi_id"]
    third = make_record(source="FAC3", source_record_id="C1", **other_person)
    alone = client.post("/records", json=third).json()
    messages = session.scalar(select(func.count()).select_from(Outbox))

    body = client.post("/records", json=make_record(source="FAC3", source_record_id="C1")).json()

    assert (body["match_result"], body["link_state"]) == ("POSSIBLE_MATCH", "provisional")
    # It was its patient's only record: it keeps that patient, now provisional.
    assert body["mpi_id"] == alone["mpi_id"]
    pairs = _link(client, "FAC3")["pairs"]
    assert {p["candidate_mpi_id"] for p in pairs} == {first["mpi_id"], twin["mpi_id"]}
    assert {p["state"] for p in pairs} == {"pending"}
    assert session.scalar(select(func.count()).select_from(Outbox)) == messages + 1
    assert (
        "several_patients_above_auto"
        in _last_revision(client, _link(client, "FAC3"))["reason"]["guards"]
    )


def test_the_gray_pairs_of_the_previous_content_are_dropped(
    client, session, make_record, moved, other_person
):
    client.post("/records", json=make_record(source="FAC1"))
    gray = client.post("/records", json=make_record(source="FAC2", source_record_id="B1", **moved))
    assert gray.json()["match_result"] == "POSSIBLE_MATCH"
    record_id = session.scalar(select(Adjudication.record_id))

    body = client.post(
        "/records", json=make_record(source="FAC2", source_record_id="B1", **other_person)
    ).json()

    assert (body["mpi_id"], body["match_result"], body["link_state"]) == (
        gray.json()["mpi_id"],
        "NO_MATCH",
        "final",
    )
    left = select(Adjudication).where(Adjudication.record_id == record_id)
    assert session.scalars(left).all() == []
    assert _link(client, "FAC2")["waiting_for"] is None


def test_a_change_the_decision_does_not_read_leaves_the_link_as_it_is(client, session, make_record):
    record = make_record(source="FAC1", source_record_id="A1")
    first = client.post("/records", json=record).json()
    revisions = session.scalar(select(func.count()).select_from(LinkHistory))

    with_history = {
        **record,
        "clinical": {"conditions": [{"code": "44054006", "onset": "2020-01-02"}]},
    }
    body = client.post("/records", json=with_history).json()

    assert body["record_version"] == 2
    assert (body["mpi_id"], body["decision_id"]) == (first["mpi_id"], first["decision_id"])
    assert session.scalar(select(func.count()).select_from(LinkHistory)) == revisions


def test_a_steward_link_stays_and_the_disagreement_is_disputed(client, make_record, other_person):
    maria = client.post("/records", json=make_record(source="FAC1")).json()
    client.post("/records", json=make_record(source="FAC2", source_record_id="B1"))
    link = _link(client, "FAC2")
    decided = client.post(
        f"/links/{link['id']}/decision",
        json={"version": link["version"], "match_result": "MATCH", "mpi_id": maria["mpi_id"]},
    ).json()

    wrong = make_record(source="FAC2", source_record_id="B1", **other_person)
    body = client.post("/records", json=wrong).json()

    assert body["mpi_id"] == maria["mpi_id"]
    after = _link(client, "FAC2")
    assert (after["link_source"], after["match_result"]) == ("MANUAL", "MATCH")
    assert (after["disputed"]["by"], after["disputed"]["proposal"]) == (
        "record_updated",
        "separate",
    )
    assert after["version"] == decided["version"] + 1
