"""History keys in the index: POST /records and bulk load index the same keys, and a shared rare
history makes a candidate of a record whose demographics share no key."""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select

from mpi_api.bulk import bulk_load
from mpi_api.records.service import event_rows
from mpi_linker.features import blocking_keys, features
from mpi_linker.frames import frame, read_events, read_records
from mpi_linker.history_keys import is_history_key
from mpi_linker.model.artifact import load
from mpi_store.datasets import iter_payloads
from mpi_store.db import unit_of_work
from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS, RecordCreate
from mpi_store.models import BlockingKey, SourceRecord

FIXTURE = Path(__file__).parents[2] / "data" / "fixture"
RARE = [{"code_system": "http://snomed.info/sct", "code": f"99900{i}"} for i in range(4)]


def _payloads(count: int):
    _, payloads = iter_payloads(FIXTURE)
    return list(itertools.islice(payloads, count))


def _indexed_keys(session_factory):
    with session_factory() as session:
        rows = session.execute(
            select(SourceRecord.source, SourceRecord.source_record_id, BlockingKey.key).join(
                BlockingKey, BlockingKey.record_id == SourceRecord.id
            )
        )
        found = defaultdict(set)
        for source, source_record_id, key in rows:
            found[(source, source_record_id)].add(key)
    return dict(found)


def test_online_and_bulk_load_index_the_same_keys(client, connection, session_factory):
    payloads = _payloads(40)
    savepoint = connection.begin_nested()
    with unit_of_work(session_factory) as session:
        bulk_load(session, payloads=iter(payloads), artifact=load())
    bulk = _indexed_keys(session_factory)
    savepoint.rollback()

    assert {client.post("/records", json=p).status_code for p in payloads} == {201}
    online = _indexed_keys(session_factory)

    assert online == bulk
    assert len(online) == 40
    assert sum(any(map(is_history_key, keys)) for keys in online.values()) >= 10


def test_the_api_and_dataset_frames_draw_the_same_keys():
    """The frames batch prediction and training use read the same history as the api."""
    records = read_records(FIXTURE)
    table = frame(records, read_events(FIXTURE)).to_pylist()
    for payload, row in zip(_payloads(len(records)), table, strict=True):
        contract = RecordCreate.model_validate(payload)
        demographics = features(contract.model_dump(include=set(DEMOGRAPHIC_FIELDS)))
        assert blocking_keys(demographics, event_rows(contract)) == row["blocking_keys"]


def test_a_shared_rare_history_makes_a_candidate_without_a_shared_demographic_key(
    client, linker_http, session_factory, make_record, other_person
):
    first = make_record(clinical={"conditions": RARE})
    second = make_record(
        source="FAC2", **other_person, clinical={"conditions": RARE[1:], "medications": []}
    )
    contracts = [RecordCreate.model_validate(body) for body in (first, second)]
    rows = [features(c.model_dump(include=set(DEMOGRAPHIC_FIELDS))) for c in contracts]
    assert not set(blocking_keys(rows[0])) & set(blocking_keys(rows[1]))

    assert client.post("/records", json=first).status_code == 201
    with session_factory() as session:
        stored = session.scalars(
            select(SourceRecord.id).where(
                SourceRecord.source_record_id == first["source_record_id"]
            )
        ).one()
    body = {"features": rows[1], "blocking_keys": blocking_keys(rows[1], event_rows(contracts[1]))}
    response = linker_http.post("/score", json=body)

    assert response.status_code == 200
    assert [c["record_id"] for c in response.json()["candidates"]] == [stored]
    without_history = {"features": rows[1], "blocking_keys": blocking_keys(rows[1])}
    assert linker_http.post("/score", json=without_history).json()["candidates"] == []
