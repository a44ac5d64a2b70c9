"""`GET /events` over real servers: what a downstream system sees of links and patients."""

from __future__ import annotations

import time

from mpi_store.domain.enums import Scope


def _all(client, after=None, *, count=0, seconds=10.0):
    """The stream past `after`, once it shows `count` events: an event is served only when
    no older transaction is running, and one of another database on the same server (a
    parallel test worker) can hold that horizon back for a moment."""
    params = {"after": after} if after is not None else {}
    deadline = time.monotonic() + seconds
    while True:
        page = client.get("/events", params=params).json()
        if len(page["items"]) >= count or time.monotonic() > deadline:
            return page
        time.sleep(0.05)


def test_a_new_record_then_its_update_are_reported_in_order(live_client, make_record):
    body = make_record()
    created = live_client.post("/records", json=body).json()
    page = _all(live_client, count=2)
    assert [(e["type"], e["mpi_id"]) for e in page["items"]] == [
        ("patient.created", created["mpi_id"]),
        ("link.created", created["mpi_id"]),
    ]
    link = page["items"][1]
    assert (link["source"], link["source_record_id"]) == (body["source"], body["source_record_id"])
    assert link["data"] == {
        "match_result": "NO_MATCH",
        "link_source": "AUTO",
        "link_state": "final",
        "decision_id": created["decision_id"],
    }
    # Ids and states only: nothing the record said about the person.
    assert body["family_name"] not in str(page)
    assert page["next_after"] == link["id"]

    assert _all(live_client, after=page["next_after"]) == {
        "items": [],
        "next_after": page["next_after"],
    }
    # A new patient is version 1 (its first attributes are part of its creation, as a bulk
    # load writes it); its first update makes it version 2.
    live_client.post("/records", json={**body, "phone": "413-555-0199"})
    (updated,) = _all(live_client, after=page["next_after"], count=1)["items"]
    assert (updated["type"], updated["mpi_id"], updated["data"]) == (
        "patient.updated",
        created["mpi_id"],
        {"version": 2},
    )


def test_paging_with_a_limit_walks_the_whole_stream(live_client, make_record, other_person):
    live_client.post("/records", json=make_record())
    live_client.post("/records", json=make_record(source="FAC9", **other_person))
    everything = _all(live_client, count=4)["items"]
    walked, after = [], None
    while True:
        params = {"limit": 1} | ({"after": after} if after else {})
        page = live_client.get("/events", params=params).json()
        if not page["items"]:
            break
        walked += page["items"]
        after = page["next_after"]
    assert walked == everything
    assert len(everything) == 4


def test_bad_paging_is_refused_naming_the_parameter(live_client):
    too_many = live_client.get("/events", params={"limit": 5000})
    assert too_many.status_code == 422
    assert "limit" in too_many.text
    unknown = live_client.get("/events", params={"after": 123456})
    assert unknown.status_code == 404
    assert "after" in unknown.json()["detail"]


def test_reading_events_needs_the_patients_read_scope(client, make_key):
    writer = make_key([Scope.RECORDS_WRITE])
    denied = client.get("/events", headers={"Authorization": f"Bearer {writer}"})
    assert denied.status_code == 403
    reader = make_key([Scope.PATIENTS_READ])
    assert client.get("/events", headers={"Authorization": f"Bearer {reader}"}).status_code == 200
