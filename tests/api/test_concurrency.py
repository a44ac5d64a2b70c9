"""Concurrent POSTs over real connections: no duplicate records, no split patient, no 5xx."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from mpi_store.models import GoldenRecord, SourceRecord


def test_32_concurrent_posts_of_one_record(live_client, make_record, committed_engine):
    body = make_record(source="FAC1", source_record_id="SAME")

    with ThreadPoolExecutor(max_workers=32) as pool:
        responses = list(pool.map(lambda _: live_client.post("/records", json=body), range(32)))

    assert all(r.status_code in (200, 201) for r in responses)
    assert sum(r.status_code == 201 for r in responses) == 1
    assert len({r.json()["mpi_id"] for r in responses}) == 1
    with committed_engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(SourceRecord)) == 1
        assert connection.scalar(select(func.count()).select_from(GoldenRecord)) == 1


def test_8_concurrent_copies_of_one_new_patient(live_client, make_record, committed_engine):
    bodies = [make_record(source=f"FAC{i}", source_record_id=f"R{i}") for i in range(8)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda b: live_client.post("/records", json=b), bodies))

    assert all(r.status_code == 201 for r in responses)
    assert len({r.json()["mpi_id"] for r in responses}) == 1
    with committed_engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(SourceRecord)) == 8
        assert connection.scalar(select(func.count()).select_from(GoldenRecord)) == 1


def test_8_concurrent_updates_of_one_record_each_count(live_client, make_record, committed_engine):
    first = live_client.post("/records", json=make_record(source="FAC1", source_record_id="UPD"))
    bodies = [
        make_record(source="FAC1", source_record_id="UPD", phone=f"413-555-01{i:02d}")
        for i in range(8)
    ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda b: live_client.post("/records", json=b), bodies))

    assert first.status_code == 201
    assert all(r.status_code == 200 for r in responses)
    # Each update read the record under its lock: none wrote over another's version.
    assert sorted(r.json()["record_version"] for r in responses) == list(range(2, 10))
    with committed_engine.connect() as connection:
        assert connection.scalar(select(SourceRecord.version)) == 9
