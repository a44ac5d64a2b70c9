"""Automation never overrides a steward: the worker's apply and new records leave MANUAL links
as they are, and their disagreement waits in the queue."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mpi_classifier import apply
from mpi_store.models import GoldenRecord
from mpi_store.repositories import AdjudicationRepository

MATCHES = apply.Scores(0.99, 0.99, accept=True, backend="fixed", model_id="fixed-1")
NO_MATCHES = apply.Scores(0.01, 0.01, accept=False, backend="fixed", model_id="fixed-1")


def _link(client, source):
    (item,) = client.get("/links", params={"source": source}).json()["items"]
    return item


def _decide(client, link, **body):
    response = client.post(
        f"/links/{link['id']}/decision", json={"version": link["version"], **body}
    )
    assert response.status_code == 200, response.text
    return response.json()


def _gray(client, make_record, moved):
    first = client.post("/records", json=make_record(source="FAC1")).json()
    second = client.post("/records", json=make_record(source="FAC2", **moved)).json()
    assert second["match_result"] == "POSSIBLE_MATCH"
    return first, second


def _pending(session, client, source):
    (item,) = client.get("/links", params={"source": source}).json()["items"]
    return [AdjudicationRepository(session).get(p["adjudication_id"]) for p in item["pairs"]]


def test_a_classifier_match_does_not_undo_a_steward_no_match(client, session, make_record, moved):
    first, _ = _gray(client, make_record, moved)
    (adjudication,) = _pending(session, client, "FAC2")
    decided = _decide(client, _link(client, "FAC2"), match_result="NO_MATCH")

    verdict = apply.decide(session, adjudication_id=adjudication.id, scores=MATCHES)

    session.expire_all()
    assert verdict == "review"
    assert AdjudicationRepository(session).get(adjudication.id).review_reasons == [
        "manual_no_match"
    ]
    after = _link(client, "FAC2")
    assert (after["mpi_id"], after["version"], after["link_source"], after["match_result"]) == (
        decided["mpi_id"],
        decided["version"],
        "MANUAL",
        "NO_MATCH",
    )
    assert client.get(f"/patients/{first['mpi_id']}", follow_redirects=False).status_code == 200


@pytest.mark.parametrize("scores", [MATCHES, NO_MATCHES], ids=["match", "no_match"])
def test_a_classifier_verdict_leaves_a_steward_match_as_it_is(
    client, session, make_record, moved, scores
):
    first, _ = _gray(client, make_record, moved)
    (adjudication,) = _pending(session, client, "FAC2")
    decided = _decide(client, _link(client, "FAC2"), match_result="MATCH", mpi_id=first["mpi_id"])

    apply.decide(session, adjudication_id=adjudication.id, scores=scores)

    session.expire_all()
    after = _link(client, "FAC2")
    assert (after["mpi_id"], after["version"], after["link_source"], after["match_result"]) == (
        first["mpi_id"],
        decided["version"],
        "MANUAL",
        "MATCH",
    )


def test_a_new_record_of_both_patients_waits_instead_of_joining_them(client, session, make_record):
    """A record split off its patient by a steward, then a new record that matches both: the
    new record waits in the queue, and the worker's verdicts never join the two patients."""
    first = client.post("/records", json=make_record(source="FAC1")).json()
    client.post("/records", json=make_record(source="FAC2", phone=None))
    split = _decide(client, _link(client, "FAC2"), match_result="NO_MATCH")

    third = client.post("/records", json=make_record(source="FAC3")).json()

    assert (third["match_result"], third["link_state"]) == ("POSSIBLE_MATCH", "provisional")
    assert _link(client, "FAC2") == split
    for adjudication in _pending(session, client, "FAC3"):
        apply.decide(session, adjudication_id=adjudication.id, scores=MATCHES)
    session.expire_all()
    assert _link(client, "FAC2") == split
    goldens = session.scalars(
        select(GoldenRecord).where(GoldenRecord.mpi_id.in_([first["mpi_id"], split["mpi_id"]]))
    )
    assert [g.status for g in goldens] == ["active", "active"]
    waiting = _link(client, "FAC3")
    assert (waiting["match_result"], waiting["link_state"]) == ("POSSIBLE_MATCH", "provisional")
    assert "manual_no_match" in {r for p in waiting["pairs"] for r in p["review_reasons"] or []}
