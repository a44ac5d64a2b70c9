"""`GET /links`: the stewards' review queue, its filters, sorts and cursor pages."""

from __future__ import annotations

import datetime as dt

import pytest

from mpi_store.domain.enums import Scope


def _gray(client, make_record, moved, **fields):
    """A patient, then a record of theirs the linker puts in the gray zone."""
    first = client.post("/records", json=make_record(source="FAC1", **fields)).json()
    second = client.post("/records", json=make_record(source="FAC2", **moved)).json()
    assert second["match_result"] == "POSSIBLE_MATCH"
    return first, second


def test_a_gray_record_waits_in_the_queue_with_its_pair(client, make_record, moved):
    first, second = _gray(client, make_record, moved)

    page = client.get("/links", params={"match_result": "POSSIBLE_MATCH"}).json()

    (item,) = page["items"]
    assert page["next_cursor"] is None
    assert item["record"] == {"source": "FAC2", "source_record_id": second["source_record_id"]}
    assert (item["mpi_id"], item["version"], item["link_state"]) == (
        second["mpi_id"],
        1,
        "provisional",
    )
    assert (item["rule"], item["waiting_for"], item["kept_apart_from"]) == (
        "gray_zone",
        "classifier",
        [],
    )
    (pair,) = item["pairs"]
    assert pair["candidate"] == {"source": "FAC1", "source_record_id": first["source_record_id"]}
    assert pair["candidate_mpi_id"] == first["mpi_id"]
    assert pair["state"] == "pending"
    assert 0 < pair["splink_probability"] < 1
    assert pair["classifier_probability"] is None


def test_queue_items_carry_no_demographics(client, make_record, moved):
    _gray(client, make_record, moved)

    text = client.get("/links").text

    for value in ("Maria", "Gonzalez", "1984-03-12", "512-44-9087", "Elm", "Mary", "Oak"):
        assert value not in text


def test_filters(client, make_record, moved, other_person):
    first, _ = _gray(client, make_record, moved)
    client.post("/records", json=make_record(source="FAC3", **other_person))

    def sources(**params):
        return sorted(
            i["record"]["source"] for i in client.get("/links", params=params).json()["items"]
        )

    now = dt.datetime.now(dt.UTC)
    assert sources() == ["FAC1", "FAC2", "FAC3"]
    assert sources(match_result="NO_MATCH") == ["FAC1", "FAC3"]
    assert sources(link_state="provisional") == ["FAC2"]
    assert sources(link_source="MANUAL") == []
    assert sources(source="FAC3") == ["FAC3"]
    assert sources(mpi_id=first["mpi_id"]) == ["FAC1"]
    assert sources(mpi_id="mpi_unknown") == []
    assert sources(created_before=(now - dt.timedelta(days=1)).isoformat()) == []
    assert sources(created_after=(now - dt.timedelta(days=1)).isoformat()) == [
        "FAC1",
        "FAC2",
        "FAC3",
    ]


def test_cursor_pages_cover_the_queue_once(client, make_record, other_person):
    for i in range(5):
        client.post(
            "/records",
            json=make_record(
                source=f"FAC{i}",
                **{
                    **other_person,
                    "ssn": None,
                    "given_name": f"P{i}x",
                    "family_name": f"Q{i}z",
                    "birth_date": f"19{60 + i}-01-0{i + 1}",
                },
            ),
        )

    for sort in ("age", "risk"):
        seen, cursor = [], None
        while True:
            params = {"limit": 2, "sort": sort, **({"cursor": cursor} if cursor else {})}
            page = client.get("/links", params=params).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 5, sort


def test_risk_puts_the_most_uncertain_first(client, make_record, moved):
    _gray(client, make_record, moved)

    items = client.get("/links", params={"sort": "risk"}).json()["items"]

    assert items[0]["record"]["source"] == "FAC2"


def test_a_cursor_the_queue_did_not_hand_out_is_a_404_naming_it(client):
    for cursor in ("not-a-cursor", "WyJyaXNrIiwwLjUsMV0"):  # the second is a risk cursor
        response = client.get("/links", params={"cursor": cursor, "sort": "age"})
        assert response.status_code == 404
        assert response.json()["detail"].startswith("cursor:")


def test_reading_the_queue_needs_a_read_scope(client, make_key):
    client.headers["Authorization"] = f"Bearer {make_key([Scope.LINKS_WRITE])}"

    assert client.get("/links").status_code == 403


@pytest.mark.parametrize("value", ["0.5", "1700000000"])
def test_a_number_is_not_a_created_time(client, value):
    response = client.get("/links", params={"created_before": value})

    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "query.created_before"
