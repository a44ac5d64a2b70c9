"""Automation never overrides a steward: the worker's apply and new records leave MANUAL links
as they are, and their disagreement waits in the queue (a disputed link, `disputed=true`)."""

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
    assert (after["mpi_id"], after["link_source"], after["match_result"]) == (
        decided["mpi_id"],
        "MANUAL",
        "NO_MATCH",
    )
    assert client.get(f"/patients/{first['mpi_id']}", follow_redirects=False).status_code == 200
    # The disagreement waits for a steward; the decision is unchanged, its version bumped.
    assert after["version"] == decided["version"] + 1
    assert after["waiting_for"] == "steward"
    dispute = after["disputed"]
    assert (dispute["by"], dispute["proposal"], dispute["mpi_ids"]) == (
        "classifier",
        "join",
        [first["mpi_id"]],
    )
    assert (dispute["adjudication_id"], dispute["reasons"]) == (
        adjudication.id,
        ["manual_no_match"],
    )
    queue = client.get("/links", params={"disputed": "true"}).json()["items"]
    assert [item["id"] for item in queue] == [after["id"]]
    assert after["id"] not in {
        item["id"] for item in client.get("/links", params={"disputed": "false"}).json()["items"]
    }


def test_a_steward_settles_a_dispute_by_deciding_again(client, session, make_record, moved):
    _gray(client, make_record, moved)
    (adjudication,) = _pending(session, client, "FAC2")
    decided = _decide(client, _link(client, "FAC2"), match_result="NO_MATCH")
    apply.decide(session, adjudication_id=adjudication.id, scores=MATCHES)
    session.expire_all()
    disputed = _link(client, "FAC2")

    stale = client.post(
        f"/links/{disputed['id']}/decision",
        json={"version": decided["version"], "match_result": "NO_MATCH"},
    )
    assert stale.status_code == 409
    confirmed = _decide(client, disputed, match_result="NO_MATCH", reason="checked the chart")

    assert (confirmed["disputed"], confirmed["waiting_for"]) == (None, None)
    assert (confirmed["mpi_id"], confirmed["match_result"]) == (decided["mpi_id"], "NO_MATCH")
    assert confirmed["version"] == disputed["version"] + 1
    assert client.get("/links", params={"disputed": "true"}).json()["items"] == []
    last = client.get(f"/links/{confirmed['id']}/history").json()["items"][-1]
    assert (last["rule"], last["reason"]["confirmed"]) == ("manual", True)
    assert last["reason"]["settled_dispute"]["adjudication_id"] == adjudication.id
    # Deciding the same again changes nothing now that nothing disputes it.
    assert _decide(client, confirmed, match_result="NO_MATCH") == confirmed


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
    assert (after["mpi_id"], after["link_source"], after["match_result"]) == (
        first["mpi_id"],
        "MANUAL",
        "MATCH",
    )
    if scores is MATCHES:
        assert (after["version"], after["disputed"]) == (decided["version"], None)
    else:
        # The classifier would separate what the steward joined: disputed, not undone.
        assert after["version"] == decided["version"] + 1
        assert (after["disputed"]["proposal"], after["disputed"]["mpi_ids"]) == ("separate", [])


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
