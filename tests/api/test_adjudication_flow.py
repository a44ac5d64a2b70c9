"""End to end through real processes' code paths: api + linker (uvicorn) → outbox → relay →
Redis → adjudicate task body → golden records, read back through the api."""

from __future__ import annotations

import pytest

from mpi_classifier.backends.overlap import OverlapClassifier
from mpi_classifier.relay import CeleryPublisher, relay_once
from mpi_classifier.settings import Settings
from mpi_classifier.tasks import adjudicate_once
from mpi_store.db import make_sessionmaker

# A twin: same family name, birth date and address, another given name and no identifiers.
TWIN = {"given_name": "Lucia", "middle_name": None, "ssn": None, "phone": None, "email": None}


@pytest.fixture
def adjudicate_all(database_url, redis_url, queue, committed_engine, drain_queue):
    """Relay the outbox to Redis, then run the task body for every message there."""
    settings = Settings(database_url=database_url, redis_url=redis_url, queue=queue)
    factory = make_sessionmaker(committed_engine)
    classifier = OverlapClassifier.load()

    def run() -> list[str]:
        publisher = CeleryPublisher(settings)
        relay_once(factory, publisher, batch_size=100)
        publisher.close()
        return [
            adjudicate_once(session_factory=factory, classifier=classifier, adjudication_id=a[0])
            for _, a in drain_queue()
        ]

    return run


def test_one_patient_in_the_gray_zone_becomes_one_golden_record(
    live_client, make_record, moved, clinical, same_patient, adjudicate_all
):
    first = live_client.post(
        "/records", json=make_record(source="FAC1", clinical=clinical(same_patient[0]))
    ).json()
    second = live_client.post(
        "/records", json=make_record(source="FAC2", clinical=clinical(same_patient[1]), **moved)
    ).json()
    assert (second["match_result"], second["link_state"]) == ("POSSIBLE_MATCH", "provisional")
    assert second["mpi_id"] != first["mpi_id"]

    assert adjudicate_all() == ["match"]

    patient = live_client.get(f"/patients/{first['mpi_id']}").json()
    redirect = live_client.get(f"/patients/{second['mpi_id']}", follow_redirects=False)
    by_source = {r["source"]: r for r in patient["records"]}
    assert set(by_source) == {"FAC1", "FAC2"}
    assert (by_source["FAC2"]["link_source"], by_source["FAC2"]["link_state"]) == (
        "LLM",
        "final",
    )
    assert redirect.status_code == 308
    assert redirect.headers["location"] == f"/patients/{first['mpi_id']}"
    followed = live_client.get(f"/patients/{second['mpi_id']}", follow_redirects=True)
    assert followed.json()["mpi_id"] == first["mpi_id"]
    (decided,) = live_client.get("/adjudications", params={"state": "done"}).json()["items"]
    assert (decided["verdict"], decided["classifier_backend"]) == ("match", "overlap")
    assert decided["classifier_model"].startswith("overlap-")
    assert decided["fused_probability"] > decided["splink_probability"]
    # Downstream systems learn of the merge from the event stream.
    merged = [e for e in live_client.get("/events").json()["items"] if e["type"] != "link.created"]
    assert [(e["type"], e["mpi_id"], e["data"].get("redirect_to")) for e in merged[-3:]] == [
        ("patient.merged", second["mpi_id"], first["mpi_id"]),
        ("link.updated", first["mpi_id"], None),
        ("patient.updated", first["mpi_id"], None),
    ]
    moved_link = merged[-2]["data"]
    assert (moved_link["previous_mpi_id"], moved_link["link_source"]) == (second["mpi_id"], "LLM")


def test_two_people_in_the_gray_zone_stay_apart(
    live_client, make_record, clinical, different_people, adjudicate_all
):
    first = live_client.post(
        "/records", json=make_record(source="FAC1", clinical=clinical(different_people[0]))
    ).json()
    twin = live_client.post(
        "/records", json=make_record(source="FAC2", clinical=clinical(different_people[1]), **TWIN)
    ).json()
    assert twin["link_state"] == "provisional"

    assert adjudicate_all() == ["no_match"]

    mine = live_client.get(f"/patients/{twin['mpi_id']}").json()
    theirs = live_client.get(f"/patients/{first['mpi_id']}").json()
    assert [r["source"] for r in mine["records"]] == ["FAC2"]
    assert [r["source"] for r in theirs["records"]] == ["FAC1"]
    assert (mine["records"][0]["match_result"], mine["records"][0]["link_state"]) == (
        "NO_MATCH",
        "final",
    )


def test_without_clinical_history_splink_decides_alone(
    live_client, make_record, moved, adjudicate_all
):
    live_client.post("/records", json=make_record(source="FAC1"))
    second = live_client.post("/records", json=make_record(source="FAC2", **moved)).json()
    assert second["match_result"] == "POSSIBLE_MATCH"

    verdicts = adjudicate_all()

    (decided,) = live_client.get("/adjudications", params={"state": "done"}).json()["items"]
    assert decided["abstain_reason"] == "record_has_no_comparable_events"
    assert decided["classifier_probability"] is None
    bound = decided["accept_alone_threshold"]
    assert 0 < bound < 1
    expected = "match" if decided["splink_probability"] >= bound else "no_match"
    assert verdicts == [expected]
    record = live_client.get(f"/records/FAC2/{second['source_record_id']}").json()
    patient = live_client.get(f"/patients/{record['mpi_id']}").json()
    (link,) = [r for r in patient["records"] if r["source"] == "FAC2"]
    # Splink decided, the classifier had nothing to read: the link is Splink's.
    assert (link["link_source"], link["link_state"]) == ("AUTO", "final")
