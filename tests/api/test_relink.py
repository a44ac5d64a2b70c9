"""Relink: the stored records re-decided under a new model as a fresh bulk load would decide
them, with mpi_ids kept or redirected, history and events written, MANUAL links kept."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from mpi_api.bulk import bulk_load
from mpi_api.bulk.relink import relink
from mpi_api.cli import app
from mpi_api.links.schemas import LinkDecisionCreate
from mpi_api.links.service import decide, list_links
from mpi_linker.frames import frame, read_records
from mpi_linker.model.artifact import load
from mpi_linker.model.train import self_train
from mpi_store.datasets import iter_payloads
from mpi_store.db import unit_of_work
from mpi_store.models import Event, GoldenRecord, Link
from mpi_store.repositories import LinkRepository, QueueFilters, QueueSort
from tests.api.test_bulk import _partition as bulk_partition
from tests.conftest import FIXTURE


@pytest.fixture(scope="module")
def retrained():
    return self_train(frame(read_records(FIXTURE)))


def _load(session_factory, artifact):
    _, payloads = iter_payloads(FIXTURE)
    with unit_of_work(session_factory) as session:
        bulk_load(session, payloads=payloads, artifact=artifact)


def _partition(session_factory):
    """The clusters (as sets of record keys) and each record's mpi_id."""
    clusters, rows = bulk_partition(session_factory)
    return clusters, {(r["source"], r["source_record_id"]): r["mpi_id"] for r in rows}


def test_relink_under_the_same_model_changes_nothing(session_factory):
    _load(session_factory, load())
    before, ids_before = _partition(session_factory)

    with unit_of_work(session_factory) as session:
        report = relink(session, artifact=load())

    after, ids_after = _partition(session_factory)
    assert report.links_changed == 0
    assert (report.patients_created, report.patients_redirected) == (0, 0)
    assert after == before
    assert ids_after == ids_before


def test_relink_gives_a_fresh_load_s_patients_and_keeps_every_mpi_id_resolving(
    session_factory, connection, retrained
):
    savepoint = connection.begin_nested()
    _load(session_factory, retrained)
    fresh, _ = _partition(session_factory)
    savepoint.rollback()
    _load(session_factory, load())
    _, ids_before = _partition(session_factory)

    with unit_of_work(session_factory) as session:
        report = relink(session, artifact=retrained)

    relinked, ids_after = _partition(session_factory)
    assert relinked == fresh
    assert report.links_changed > 0
    with session_factory() as session:
        goldens = {g.mpi_id: g for g in session.scalars(select(GoldenRecord))}
        by_id = {g.id: g for g in goldens.values()}
        for old_mpi_id in ids_before.values():
            golden = goldens[old_mpi_id]
            # A kept id is live; a dropped one redirects to a live patient.
            survivor = by_id[golden.redirect_to] if golden.redirect_to else golden
            assert survivor.status == "active"
        changed = session.scalars(select(Link).where(Link.version > 1)).all()
        assert len(changed) == report.links_changed
        assert {link.model_version for link in changed} == {retrained.version}
        history = LinkRepository(session).history(changed[0].record_id)
        assert history[-1].reason["rule"] == "relink"
        updates = session.scalars(select(Event).where(Event.type == "link.updated")).all()
        assert len(updates) == report.links_changed
    kept = sum(ids_after[k] == v for k, v in ids_before.items())
    assert kept > len(ids_before) / 2


def test_relink_keeps_a_steward_match_and_its_patient(session_factory, retrained):
    _load(session_factory, load())
    with unit_of_work(session_factory) as session:
        first = session.scalars(select(Link).order_by(Link.id)).first()
        session.execute(update(Link).where(Link.id == first.id).values(link_source="MANUAL"))
    _, ids_before = _partition(session_factory)

    with unit_of_work(session_factory) as session:
        report = relink(session, artifact=retrained)

    with session_factory() as session:
        after = session.get(Link, first.id)
        golden = session.get(GoldenRecord, after.golden_record_id)
        assert (after.version, after.decision_id, after.golden_record_id) == (
            first.version,
            first.decision_id,
            first.golden_record_id,
        )
        assert golden.status == "active"
        assert golden.attributes
    assert report.manual_links_kept == 1
    _, ids_after = _partition(session_factory)
    assert set(ids_after) == set(ids_before)


def test_relink_leaves_a_steward_split_apart(session_factory):
    """A record a steward split off its patient: the same model would put it back; relink
    leaves it on its own patient, counts the disagreement and disputes the link (once)."""
    _load(session_factory, load())
    with unit_of_work(session_factory) as session:
        shared = session.scalars(
            select(Link.golden_record_id)
            .group_by(Link.golden_record_id)
            .having(func.count() > 2)
            .order_by(Link.golden_record_id)
        ).first()
        link = LinkRepository(session).records_of_golden(shared)[0][1]
        left = session.get_one(GoldenRecord, shared).mpi_id
        split = decide(
            session,
            link_id=link.id,
            decision=LinkDecisionCreate(match_result="NO_MATCH", version=link.version),
            actor="steward",
        )
    before, ids_before = _partition(session_factory)

    with unit_of_work(session_factory) as session:
        report = relink(session, artifact=load())

    after, ids_after = _partition(session_factory)
    assert (report.manual_links_kept, report.manual_disagreements) == (1, 1)
    assert report.links_changed == 0
    assert after == before
    assert ids_after == ids_before
    with session_factory() as session:
        kept = session.get(Link, link.id)
        assert (kept.link_source, kept.version) == ("MANUAL", split.row.link.version + 1)
        assert (kept.golden_record_id, kept.match_result) == (
            split.row.link.golden_record_id,
            "NO_MATCH",
        )
        dispute = {k: v for k, v in kept.disputed.items() if k != "at"}
        assert dispute == {
            "by": "relink",
            "proposal": "join",
            "mpi_ids": [left],
            "model_version": load().version,
        }
        (queued,), _ = list_links(
            session, filters=QueueFilters(disputed=True), sort=QueueSort.AGE, cursor=None, limit=10
        )
        assert queued.row.link.id == link.id

    with unit_of_work(session_factory) as session:
        relink(session, artifact=load())
    with session_factory() as session:
        assert session.get(Link, link.id).version == split.row.link.version + 1


def test_the_command_relinks_or_names_what_to_give(database_url, committed_engine, monkeypatch):
    from mpi_store.db import make_sessionmaker

    _load(make_sessionmaker(committed_engine), load())
    monkeypatch.setenv("MPI_DATABASE_URL", database_url)
    runner = CliRunner()

    assert runner.invoke(app, ["bulk-load"]).exit_code == 2
    result = runner.invoke(app, ["bulk-load", "--relink"])

    assert result.exit_code == 0, result.output
    rows = {
        cells[0]: cells[1]
        for line in result.output.splitlines()
        if len(cells := [c.strip() for c in line.strip("│┃ ").split("│")]) == 2
    }
    assert rows["records relinked"] == "401"
    assert rows["links changed"] == "0"
    assert rows["MANUAL links kept"] == "0"
