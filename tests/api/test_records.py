"""POST /records and GET /records/{source}/{source_record_id}."""

from __future__ import annotations

from urllib.parse import quote

import httpx
from sqlalchemy import event, func, select

from mpi_api.linker_client import LinkerClient
from mpi_api.records.matching import LinkerMatcher
from mpi_linker.features import RecordFeatures, record_features
from mpi_store.models import (
    Adjudication,
    BlockingKey,
    ClinicalEvent,
    Event,
    GoldenRecord,
    Link,
    LinkerRecord,
    LinkHistory,
    Outbox,
    SourceRecord,
)


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


class TestCreateRecord:
    def test_new_record_founds_a_patient(self, client, make_record, session):
        response = client.post("/records", json=make_record(source_record_id="A1"))

        assert response.status_code == 201
        body = response.json()
        assert body["mpi_id"].startswith("mpi_")
        assert body["match_result"] == "NO_MATCH"
        assert body["link_state"] == "final"
        assert body["link_source"] == "AUTO"
        assert body["record_version"] == 1
        assert body["decision_id"]
        assert _count(session, SourceRecord) == 1
        assert _count(session, GoldenRecord) == 1
        assert _count(session, LinkHistory) == 1

    def test_same_body_twice_is_idempotent(self, client, make_record, session):
        record = make_record(source_record_id="A1")
        first = client.post("/records", json=record)
        second = client.post("/records", json=record)

        assert (first.status_code, second.status_code) == (201, 200)
        assert second.json()["mpi_id"] == first.json()["mpi_id"]
        assert second.json()["decision_id"] == first.json()["decision_id"]
        assert second.json()["record_version"] == 1
        assert _count(session, SourceRecord) == 1
        assert _count(session, GoldenRecord) == 1

    def test_changed_body_bumps_version_and_recomputes_golden(self, client, make_record):
        first = client.post("/records", json=make_record(source_record_id="A1", city="Boston"))
        second = client.post("/records", json=make_record(source_record_id="A1", city="Salem"))

        assert second.status_code == 200
        assert second.json()["record_version"] == 2
        assert second.json()["mpi_id"] == first.json()["mpi_id"]
        patient = client.get(f"/patients/{first.json()['mpi_id']}").json()
        assert patient["golden"]["city"] == "Salem"

    def test_same_ssn_from_another_source_links_to_the_patient(self, client, make_record):
        first = client.post("/records", json=make_record(source="FAC1"))
        second = client.post(
            "/records",
            json=make_record(source="FAC2", given_name="Mary", ssn="512449087"),
        )

        assert second.status_code == 201
        assert second.json()["mpi_id"] == first.json()["mpi_id"]
        assert second.json()["match_result"] == "MATCH"
        assert second.json()["probability"] > 0.99
        assert second.json()["match_weight"] > 0

    def test_same_name_and_birth_date_links_despite_case_and_accents(self, client, make_record):
        first = client.post("/records", json=make_record(source="FAC1", ssn=None))
        second = client.post(
            "/records",
            json=make_record(source="FAC2", given_name="MARÍA", family_name="gonzalez ", ssn=None),
        )

        assert second.json()["mpi_id"] == first.json()["mpi_id"]
        assert second.json()["match_result"] == "MATCH"

    def test_different_person_gets_a_new_patient(self, client, make_record, other_person):
        first = client.post("/records", json=make_record(source="FAC1"))
        other = client.post("/records", json=make_record(source="FAC2", **other_person))

        assert other.json()["mpi_id"] != first.json()["mpi_id"]
        assert other.json()["match_result"] == "NO_MATCH"

    def test_placeholder_ssn_is_not_evidence(self, client, make_record, other_person):
        first = client.post("/records", json=make_record(source="FAC1", ssn="123-45-6789"))
        second = client.post(
            "/records", json=make_record(source="FAC2", **{**other_person, "ssn": "123456789"})
        )

        assert second.json()["mpi_id"] != first.json()["mpi_id"]

    def test_same_source_different_id_is_held_for_review(self, client, make_record):
        first = client.post("/records", json=make_record(source="FAC1", source_record_id="A1"))
        second = client.post("/records", json=make_record(source="FAC1", source_record_id="A2"))

        body = second.json()
        assert body["match_result"] == "POSSIBLE_MATCH"
        assert body["link_state"] == "provisional"
        assert body["mpi_id"] != first.json()["mpi_id"]

    def test_a_copy_in_another_script_from_a_second_source_links(self, client):
        record = {
            "given_name": "伟",
            "family_name": "王",
            "birth_date": "1990-10-10",
            "sex": "male",
        }
        first = client.post("/records", json={"source": "UNI", "source_record_id": "U-3", **record})
        second = client.post(
            "/records", json={"source": "UNI2", "source_record_id": "U-3", **record}
        )

        assert second.json()["mpi_id"] == first.json()["mpi_id"]
        assert second.json()["match_result"] == "MATCH"

    def test_gray_zone_writes_adjudications_and_one_outbox_row(self, client, make_record, session):
        first = client.post("/records", json=make_record(source="FAC1", source_record_id="A1"))
        second = client.post("/records", json=make_record(source="FAC1", source_record_id="A2"))

        adjudications = session.scalars(select(Adjudication)).all()
        outbox = session.scalars(select(Outbox)).all()
        assert second.json()["link_state"] == "provisional"
        assert len(adjudications) == 1
        assert adjudications[0].state == "pending"
        assert adjudications[0].candidate_golden_record_id == session.scalar(
            select(GoldenRecord.id).where(GoldenRecord.mpi_id == first.json()["mpi_id"])
        )
        assert adjudications[0].comparison_weights["given_name"]["match_weight"] > 0
        assert [row.payload for row in outbox] == [
            {"record_id": adjudications[0].record_id, "adjudication_ids": [adjudications[0].id]}
        ]

    def test_linker_down_is_503_with_retry_after_and_nothing_written(
        self, client, app, make_record, session
    ):
        app.state.matcher = LinkerMatcher(
            LinkerClient(httpx.Client(base_url="http://127.0.0.1:9"), retries=1, backoff_seconds=0)
        )

        response = client.post("/records", json=make_record())

        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["error"] == "LinkerUnavailable"
        assert _count(session, SourceRecord) == 0
        assert _count(session, LinkerRecord) == 0

    def test_the_index_holds_what_the_linker_service_answers(
        self, client, make_record, other_person, session, monkeypatch
    ):
        # A blocking change made in the linker alone: every record also gets one shared key.
        def with_a_new_rule(demographics, events=None):
            made = record_features(demographics, events)
            return RecordFeatures(made.features, [*made.blocking_keys, "new_rule:x"], [])

        monkeypatch.setattr("mpi_linker.score.router.record_features", with_a_new_rule)
        client.post("/records", json=make_record(source="FAC1"))
        second = client.post("/records", json=make_record(source="FAC2", **other_person))

        assert second.status_code == 201
        keyed = session.scalars(
            select(BlockingKey.record_id).where(BlockingKey.key == "new_rule:x")
        )
        assert len(keyed.all()) == 2
        # The second record met the first through the new key alone.
        history = session.scalars(select(LinkHistory).order_by(LinkHistory.id)).all()
        assert history[-1].reason["candidates_found"] == 1

    def test_conflicting_ssns_are_held_for_review(self, client, make_record, session):
        client.post("/records", json=make_record(source="FAC1", ssn="512-44-9087"))
        second = client.post("/records", json=make_record(source="FAC2", ssn="512-44-9810"))

        assert second.json()["match_result"] == "POSSIBLE_MATCH"
        history = session.scalars(select(LinkHistory).order_by(LinkHistory.id)).all()
        assert history[-1].reason["guards"] == ["conflicting_ssn"]

    def test_an_uncoded_clinical_item_is_stored_and_keys_nothing(
        self, client, make_record, session
    ):
        clinical = {"conditions": [{"display": "Back pain"}, {"code_system": "SNOMED"}]}

        response = client.post("/records", json=make_record(clinical=clinical))

        assert response.status_code == 201
        assert _count(session, ClinicalEvent) == 2

    def test_clinical_events_are_stored(self, client, make_record, session):
        clinical = {
            "conditions": [
                {
                    "code_system": "SNOMED",
                    "code": "44054006",
                    "display": "Diabetes",
                    "onset": "2015-06-01",
                }
            ],
            "observations": [
                {
                    "code_system": "LOINC",
                    "code": "8302-2",
                    "display": "Height",
                    "date": "2020-01-02",
                    "value": 171.5,
                    "unit": "cm",
                },
                {
                    "code_system": "LOINC",
                    "code": "72166-2",
                    "display": "Smoking",
                    "date": "2020-01-02",
                    "value": "Never smoker",
                },
            ],
            "encounters": [{"code": "185349003", "start": "2020-01-02", "type": "ambulatory"}],
        }
        client.post("/records", json=make_record(clinical=clinical))

        assert _count(session, ClinicalEvent) == 4


class TestReadRecord:
    def test_returns_the_record_and_its_patient(self, client, make_record):
        clinical = {
            "medications": [{"code": "860975", "start": "2019-01-01", "stop": None}],
            "observations": [{"code": "8302-2", "date": "2020-01-02", "value": 171.5}],
        }
        created = client.post(
            "/records", json=make_record(source_record_id="A1", middle_name=None, clinical=clinical)
        ).json()

        response = client.get("/records/FAC1/A1")

        assert response.status_code == 200
        body = response.json()
        assert body["mpi_id"] == created["mpi_id"]
        assert body["middle_name"] is None
        assert body["postcode"] == "01103"
        assert body["clinical"]["medications"][0]["start"] == "2019-01-01"
        assert body["clinical"]["medications"][0]["stop"] is None
        assert body["clinical"]["observations"][0]["value"] == 171.5

    def test_blank_strings_are_stored_as_null(self, client, make_record):
        client.post("/records", json=make_record(source_record_id="A1", city="  ", phone=""))

        body = client.get("/records/FAC1/A1").json()

        assert body["city"] is None
        assert body["phone"] is None

    def test_unknown_record_is_404(self, client):
        response = client.get("/records/FAC1/nope")

        assert response.status_code == 404
        assert response.json()["error"] == "RecordNotFound"

    def test_an_id_holding_a_slash_reads_back(self, client, make_record):
        record_id = "Ü/ß?#&"
        client.post("/records", json=make_record(source="UNI", source_record_id=record_id))

        response = client.get(f"/records/UNI/{quote(record_id, safe='')}")

        assert response.status_code == 200
        assert response.json()["source_record_id"] == record_id

    def test_an_unknown_path_is_404_in_the_error_format(self, client):
        response = client.get("/nothing-here")

        assert response.status_code == 404
        assert response.json() == {"error": "NotFound", "detail": "Not Found"}

    def test_one_link_per_record(self, client, make_record, session):
        client.post("/records", json=make_record(source_record_id="A1"))
        client.post("/records", json=make_record(source_record_id="A1", city="Other"))

        assert _count(session, Link) == 1


def test_a_new_record_takes_its_locks_in_one_statement_and_deletes_nothing(
    client, make_record, engine
):
    statements: list[str] = []

    def seen(connection, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        response = client.post("/records", json=make_record(source="FAC7"))
    finally:
        event.remove(engine, "before_cursor_execute", seen)

    assert response.status_code == 201
    assert len([s for s in statements if "pg_advisory_xact_lock" in s]) == 1
    assert not [s for s in statements if s.lstrip().upper().startswith("DELETE")]


def test_a_replay_of_the_stored_content_asks_the_linker_nothing_and_writes_nothing(
    client, app, make_record, engine, session
):
    tables = (SourceRecord, Link, LinkHistory, GoldenRecord, Event, Adjudication, Outbox)
    record = make_record(source="FAC8", source_record_id="R1")
    first = client.post("/records", json=record)
    counts = [_count(session, table) for table in tables]
    # The linker is down: a replay needs it not.
    app.state.matcher = LinkerMatcher(
        LinkerClient(httpx.Client(base_url="http://127.0.0.1:9"), retries=1, backoff_seconds=0)
    )
    statements: list[str] = []

    def seen(connection, cursor, statement, *args):
        statements.append(statement.lstrip().upper())

    event.listen(engine, "before_cursor_execute", seen)
    try:
        replay = client.post("/records", json=record)
    finally:
        event.remove(engine, "before_cursor_execute", seen)

    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json()["mpi_id"] == first.json()["mpi_id"]
    assert replay.json()["decision_id"] == first.json()["decision_id"]
    assert not [s for s in statements if "PG_ADVISORY_XACT_LOCK" in s]
    assert not [s for s in statements if s.startswith(("INSERT", "UPDATE", "DELETE"))]
    # Nor by COPY, which statement events do not see.
    assert [_count(session, table) for table in tables] == counts
    changed = client.post("/records", json={**record, "city": "Salem"})
    assert changed.status_code == 503


def test_a_new_record_costs_one_linker_call(client, app, make_record, monkeypatch):
    calls: list[str] = []
    linker = app.state.matcher.client
    for name in ("features_and_score", "score"):
        method = getattr(linker, name)
        monkeypatch.setattr(
            linker, name, lambda *a, _m=method, _n=name, **k: calls.append(_n) or _m(*a, **k)
        )

    client.post("/records", json=make_record(source="FAC9", source_record_id="ONE"))
    client.post("/records", json=make_record(source="FAC9", source_record_id="TWO"))

    # Nothing arrived between the linker's answer and the locks: no second call.
    assert calls == ["features_and_score", "features_and_score"]
