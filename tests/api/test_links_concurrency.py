"""Decisions racing over real connections: two stewards (one wins, one gets 409), and a
steward and the worker (the decision waits for the adjudication, then sees it)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from mpi_classifier import apply
from mpi_store.db import make_sessionmaker
from mpi_store.models import LinkHistory


def test_two_decisions_on_one_version_one_wins(live_client, make_record, moved, committed_engine):
    first = live_client.post("/records", json=make_record(source="FAC1")).json()
    second = live_client.post("/records", json=make_record(source="FAC2", **moved)).json()
    assert second["match_result"] == "POSSIBLE_MATCH"
    (link,) = live_client.get("/links", params={"source": "FAC2"}).json()["items"]
    bodies = [
        {"match_result": "MATCH", "mpi_id": first["mpi_id"], "version": link["version"]},
        {"match_result": "NO_MATCH", "version": link["version"]},
    ]
    start = threading.Barrier(len(bodies))

    def decide(body):
        start.wait()
        return live_client.post(f"/links/{link['id']}/decision", json=body)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        responses = list(pool.map(decide, bodies))

    assert sorted(r.status_code for r in responses) == [200, 409]
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    (loser,) = [r.json() for r in responses if r.status_code == 409]
    assert loser["current_version"] == winner["version"] == link["version"] + 1
    (now,) = live_client.get("/links", params={"source": "FAC2"}).json()["items"]
    assert (now["match_result"], now["version"]) == (winner["match_result"], winner["version"])
    with committed_engine.connect() as connection:
        manual = select(func.count()).where(LinkHistory.link_source == "MANUAL")
        assert connection.scalar(manual) == 1


def test_a_decision_waits_for_an_adjudication_in_flight_then_sees_its_change(
    live_client, make_record, moved, committed_engine
):
    """The worker's apply holds the link-change lock and the patients' rows; a steward's
    decision on the same link waits for it to commit, then finds its version stale."""
    live_client.post("/records", json=make_record(source="FAC1"))
    live_client.post("/records", json=make_record(source="FAC2", **moved))
    (link,) = live_client.get("/links", params={"source": "FAC2"}).json()["items"]
    (pair,) = link["pairs"]
    worker = make_sessionmaker(committed_engine)()
    scores = apply.Scores(0.99, 0.99, accept=True, backend="fixed", model_id="fixed-1")
    assert apply.decide(worker, adjudication_id=pair["adjudication_id"], scores=scores) == "match"

    with ThreadPoolExecutor(max_workers=1) as pool:
        decision = pool.submit(
            live_client.post,
            f"/links/{link['id']}/decision",
            json={"match_result": "NO_MATCH", "version": link["version"]},
        )
        try:
            with pytest.raises(TimeoutError):
                decision.result(timeout=1)
            worker.commit()
        finally:
            worker.close()
        response = decision.result(timeout=30)

    assert response.status_code == 409
    assert response.json()["current_version"] == link["version"] + 1
    (now,) = live_client.get("/links", params={"source": "FAC2"}).json()["items"]
    assert (now["match_result"], now["link_source"]) == ("MATCH", "LLM")
