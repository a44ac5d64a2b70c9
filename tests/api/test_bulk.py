"""Bulk load links like a replay through POST /records, writes all or nothing, and refuses a
populated MPI."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from mpi_api.bulk import bulk_load, ingest, predict
from mpi_api.cli import app
from mpi_linker.features import TF_COLUMNS
from mpi_linker.model.artifact import load
from mpi_store.datasets import iter_payloads
from mpi_store.db import unit_of_work
from mpi_store.domain.errors import Conflict, InvalidRecord
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
    TermFrequency,
)
from mpi_store.repositories import LinkRepository

FIXTURE = Path(__file__).parents[2] / "data" / "fixture"


def _partition(session_factory):
    with session_factory() as session:
        rows = LinkRepository(session).clusters()
    clusters = defaultdict(set)
    for row in rows:
        clusters[row["mpi_id"]].add((row["source"], row["source_record_id"]))
    return {frozenset(members) for members in clusters.values()}, rows


def _load_fixture(session_factory):
    """Bulk-load the fixture in a unit of work (committed to the test's connection)."""
    _, payloads = iter_payloads(FIXTURE)
    with unit_of_work(session_factory) as session:
        return bulk_load(session, payloads=payloads, artifact=load())


def _creations(session_factory):
    """The patient and link creations the event stream reports, by type and match result."""
    with session_factory() as session:
        events = session.scalars(select(Event).where(Event.type.like("%.created"))).all()
    return Counter((e.type, e.data.get("match_result")) for e in events)


def _written(session_factory):
    """What the decisions wrote, by record key: the link, its history, its patient's row and
    the events, without ids, decision ids and times. A patient's version counts the updates
    its readers could see: online one per record that changed it, in bulk none (it is
    written once, whole), so only a patient of one record is compared on it."""
    with session_factory() as session:
        keys = {r.id: (r.source, r.source_record_id) for r in session.scalars(select(SourceRecord))}
        sizes = Counter(session.scalars(select(Link.golden_record_id)))
        links = {}
        for link in session.scalars(select(Link)):
            golden = session.get(GoldenRecord, link.golden_record_id)
            links[keys[link.record_id]] = (
                link.match_result,
                link.link_source,
                link.link_state,
                link.model_version,
                link.version,
                golden.status,
                sorted(golden.attributes),
                golden.version if sizes[golden.id] == 1 else None,
            )
        history = {
            keys[row.record_id]: (
                row.match_result,
                row.link_source,
                row.link_state,
                row.record_version,
                row.previous_golden_record_id,
                row.actor,
                sorted(row.reason),
            )
            for row in session.scalars(select(LinkHistory))
        }
        events = Counter(
            (e.type, e.source is None, tuple(sorted(e.data)))
            for e in session.scalars(select(Event).where(Event.type != "patient.updated"))
        )
    return links, history, events


def test_bulk_load_gives_the_clusters_of_a_replay(client, connection, session_factory):
    savepoint = connection.begin_nested()
    report = _load_fixture(session_factory)
    bulk, bulk_rows = _partition(session_factory)
    bulk_events = _creations(session_factory)
    bulk_written = _written(session_factory)
    with session_factory() as session:
        frequencies = [
            {"column_name": t.column_name, "value": t.value, "frequency": t.frequency}
            for t in session.scalars(select(TermFrequency))
        ]
    savepoint.rollback()
    # The bulk load scored with the frequencies of every record it loaded; the linker's
    # background refresh has them once it has seen the records: the replay starts with them.
    assert {f["column_name"] for f in frequencies} == set(TF_COLUMNS)
    with unit_of_work(session_factory) as session:
        session.execute(insert(TermFrequency), frequencies)

    _, payloads = iter_payloads(FIXTURE)
    statuses = {client.post("/records", json=payload).status_code for payload in payloads}
    replay, replay_rows = _partition(session_factory)

    assert statuses == {201}
    assert report.records == len(bulk_rows) == len(replay_rows) == 401
    assert report.golden_records == len(bulk)
    assert bulk == replay
    assert [r["match_result"] for r in bulk_rows] == [r["match_result"] for r in replay_rows]
    assert 1 < len(bulk) < 401
    # Bulk writes each golden record once, whole: no `patient.updated` as records join it.
    assert bulk_events == _creations(session_factory)
    assert bulk_events[("patient.created", None)] == len(bulk)
    # One write path: the same rows (a link and patient at version 1, one history row per
    # record, the same events) whether a record was decided online or in bulk.
    assert bulk_written == _written(session_factory)


def test_bulk_load_writes_gray_pairs_for_adjudication(session):
    _, payloads = iter_payloads(FIXTURE)

    report = bulk_load(session, payloads=payloads, artifact=load())

    adjudications = session.scalars(select(Adjudication)).all()
    outbox = session.scalars(select(Outbox)).all()
    # Gray records, and auto matches with gray candidates on other patients, ask for pairs.
    assert len(outbox) >= report.match_results["POSSIBLE_MATCH"] > 0
    assert len(adjudications) >= len(outbox)
    assert {a.state for a in adjudications} == {"pending"}


def test_bulk_load_scored_in_chunks_links_as_in_one(connection, session_factory, monkeypatch):
    savepoint = connection.begin_nested()
    whole = _load_fixture(session_factory)
    in_one, _ = _partition(session_factory)
    savepoint.rollback()

    # The fixture's blocks give about a thousand pairs: this scores them in about ten chunks.
    monkeypatch.setattr(predict, "BLOCKED_PAIRS_PER_CHUNK", 100)
    chunked = _load_fixture(session_factory)
    in_chunks, _ = _partition(session_factory)

    assert chunked == whole
    assert in_chunks == in_one


def test_a_record_failing_validation_leaves_nothing_written(session_factory, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH", 100)
    _, payloads = iter_payloads(FIXTURE)
    records = list(payloads)
    records[250]["birth_date"] = "not a date"  # after two batches have been written

    with pytest.raises(InvalidRecord) as raised, unit_of_work(session_factory) as session:
        bulk_load(session, payloads=records, artifact=load())

    assert str(raised.value).startswith("record 251: birth_date: ")
    assert "not a date" not in str(raised.value)

    with session_factory() as session:
        for model in (SourceRecord, ClinicalEvent, LinkerRecord, BlockingKey):
            assert session.scalar(select(func.count()).select_from(model)) == 0


def test_a_key_that_comes_twice_names_both_records(session):
    _, payloads = iter_payloads(FIXTURE)
    records = list(payloads)
    records.append(dict(records[3]))

    with pytest.raises(InvalidRecord, match=r"record 402: .* repeat record 4's"):
        bulk_load(session, payloads=records, artifact=load())


def test_the_command_names_the_bad_record_and_loads_nothing(tmp_path, database_url, monkeypatch):
    table = pq.read_table(FIXTURE / "records.parquet")
    records = table.to_pylist()
    records[7]["sex"] = "sometimes"
    pq.write_table(pa.Table.from_pylist(records, schema=table.schema), tmp_path / "records.parquet")
    monkeypatch.setenv("MPI_DATABASE_URL", database_url)

    result = CliRunner().invoke(app, ["bulk-load", str(tmp_path), "--state-dir", str(tmp_path)])

    assert result.exit_code == 2
    assert "Nothing was loaded: record 8: sex: " in " ".join(result.output.split())


def test_bulk_load_refuses_a_populated_mpi(client, make_record, session):
    client.post("/records", json=make_record())
    _, payloads = iter_payloads(FIXTURE)

    with pytest.raises(Conflict):
        bulk_load(session, payloads=payloads, artifact=load())


class _Recorded:
    """A progress that keeps what it was told."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}

    def begin(self, step, total):
        self.totals[str(step)] = total
        self.done[str(step)] = 0

    def advance(self, step, amount):
        self.done[str(step)] += amount


def test_the_load_reports_each_step_to_its_total(session):
    total, payloads = iter_payloads(FIXTURE)
    progress = _Recorded()

    report = bulk_load(session, payloads=payloads, artifact=load(), total=total, progress=progress)

    assert list(progress.totals) == [
        "records stored",
        "blocked pairs scored",
        "records decided",
        "links written",
    ]
    assert progress.done == progress.totals
    assert progress.totals["records stored"] == report.records == total
    assert progress.totals["blocked pairs scored"] >= report.candidate_pairs > 0


def test_the_command_ends_with_a_summary_table(
    tmp_path, database_url, committed_engine, monkeypatch
):
    monkeypatch.setenv("MPI_DATABASE_URL", database_url)

    result = CliRunner().invoke(app, ["bulk-load", str(FIXTURE), "--state-dir", str(tmp_path)])

    assert result.exit_code == 0, result.output
    rows = {
        cells[0]: cells[1]
        for line in result.output.splitlines()
        if (cells := [c.strip() for c in line.strip("│┃ ").split("│")]) and len(cells) == 2
    }
    assert rows["records loaded"] == "401"
    assert int(rows["patients"].replace(",", "")) > 0
    assert int(rows["peak memory (MiB)"].replace(",", "")) > 0
    assert any(name.startswith("decided ") for name in rows)
