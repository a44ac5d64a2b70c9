"""Two stewards deciding one link at once, over real connections: one wins, one gets 409."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

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
