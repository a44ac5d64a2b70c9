"""Steward merges racing over real connections: they serialise on the link-change lock and the
patients' rows, one merge happens, nothing is lost."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from mpi_store.models import Event, GoldenRecord, Link


def _two_patients(client, make_record, other_person):
    first = client.post("/records", json=make_record(source="FAC1")).json()
    second = client.post("/records", json=make_record(source="FAC2", **other_person)).json()
    assert first["mpi_id"] != second["mpi_id"]
    return first["mpi_id"], second["mpi_id"]


def _race(client, requests):
    start = threading.Barrier(len(requests))

    def send(request):
        path, body = request
        start.wait()
        return client.post(path, json=body, follow_redirects=True)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


def _merge(survivor, absorbed):
    body = {"other_mpi_id": absorbed, "force": True, "reason": "race"}
    return f"/patients/{survivor}/merge", body


def _state(engine):
    with engine.connect() as connection:
        merged = connection.scalars(select(Event.mpi_id).where(Event.type == "patient.merged"))
        active = connection.scalars(select(GoldenRecord.id).where(GoldenRecord.status == "active"))
        on = connection.scalars(select(Link.golden_record_id).distinct())
        return list(merged), list(active), list(on)


def test_two_merges_of_the_same_patients_each_way_merge_them_once(
    live_client, make_record, other_person, committed_engine
):
    a, b = _two_patients(live_client, make_record, other_person)

    responses = _race(live_client, [_merge(a, b), _merge(b, a)])

    codes = sorted(r.status_code for r in responses)
    # The loser waited for the winner: its patient is gone (409), or it started after the
    # winner committed and is answered the winner's merge (200).
    assert codes in ([200, 200], [200, 409]), [r.text for r in responses]
    merged, active, on = _state(committed_engine)
    assert len(merged) == 1
    assert len(active) == 1
    assert on == active
    survivor = next(r.json()["mpi_id"] for r in responses if r.status_code == 200)
    patient = live_client.get(f"/patients/{survivor}").json()
    assert sorted(r["source"] for r in patient["records"]) == ["FAC1", "FAC2"]


def test_the_same_merge_twice_at_once_is_one_merge(
    live_client, make_record, other_person, committed_engine
):
    a, b = _two_patients(live_client, make_record, other_person)

    responses = _race(live_client, [_merge(a, b), _merge(a, b)])

    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert responses[0].json()["merge_id"] == responses[1].json()["merge_id"]
    merged, active, _ = _state(committed_engine)
    assert len(merged) == 1
    assert len(active) == 1
