"""Term frequencies from the deployment's own records, shrunk towards the model's u."""

from __future__ import annotations

import pytest

from mpi_linker.features import TF_COLUMNS
from mpi_linker.model.artifact import load
from mpi_linker.scoring import exact_u
from mpi_linker.term_frequencies import PSEUDO_RECORDS, FrequencyTable, Refresher, refresh
from mpi_store.models import SourceRecord
from mpi_store.repositories import LinkerIndexRepository

ARTIFACT = load()


def _index(session, *given_names, start=0):
    index = LinkerIndexRepository(session)
    for i, given in enumerate(given_names, start=start):
        record = SourceRecord(
            source="TF", source_record_id=str(i), identifiers=[], content_hash="x", version=1
        )
        session.add(record)
        session.flush()
        index.put(record.id, features={"given_name": given, "postcode": "02139"}, keys=[])
    session.flush()


def _frequencies(session, column):
    values = {"given_name": ["maria", "ana"], "postcode": ["02139"]}[column]
    return LinkerIndexRepository(session).term_frequencies({column: values})[column]


def test_frequencies_are_counts_shrunk_towards_the_models_u(session):
    _index(session, "maria", "maria", "ana")

    assert refresh(session, ARTIFACT) == 3  # two names and one postcode

    u = exact_u(ARTIFACT.splink)
    given = _frequencies(session, "given_name")
    assert given["maria"] == pytest.approx((2 + PSEUDO_RECORDS * u["given_name"]) / 1003)
    assert given["ana"] == pytest.approx((1 + PSEUDO_RECORDS * u["given_name"]) / 1003)
    # A value every record holds is common whatever the model says.
    postcode = _frequencies(session, "postcode")["02139"]
    assert postcode == pytest.approx((3 + PSEUDO_RECORDS * u["postcode"]) / 1003)
    assert postcode > u["postcode"]
    assert set(TF_COLUMNS) >= {"given_name", "family_name", "postcode", "city"}


def test_the_refresher_runs_when_the_index_has_grown(session, session_factory):
    table = FrequencyTable()
    refresher = Refresher(session_factory, lambda: ARTIFACT, interval=60, growth=0.5, table=table)
    assert not refresher.check()  # nothing indexed yet
    assert table.values(LinkerIndexRepository(session)) == {}

    _index(session, "maria", "ana")
    assert refresher.check()
    # The round brought the linker's table in memory up to date.
    assert set(table.values(LinkerIndexRepository(session))["given_name"]) == {"maria", "ana"}
    assert set(_frequencies(session, "given_name")) == {"maria", "ana"}

    _index(session, "maria", "ana", start=2)  # 4 records: grown by half
    _index(session, "lucia", start=4)
    assert refresher.check()
    u = exact_u(ARTIFACT.splink)["given_name"]
    assert _frequencies(session, "given_name")["maria"] == pytest.approx(
        (2 + PSEUDO_RECORDS * u) / 1005
    )
    assert not refresher.check()  # 5 records, no growth since


def _reading(session):
    """An index repository that counts its reads of the whole table."""
    index = LinkerIndexRepository(session)
    reads = []
    read = index.all_term_frequencies
    index.all_term_frequencies = lambda: reads.append(True) or read()
    return index, reads


def test_the_table_is_read_once_and_again_when_it_changed(session):
    _index(session, "maria", "maria", "ana")
    refresh(session, ARTIFACT)
    index, reads = _reading(session)
    table = FrequencyTable()

    values = table.values(index)
    assert values["given_name"] == _frequencies(session, "given_name")
    assert values["postcode"] == _frequencies(session, "postcode")
    assert table.values(index) is values
    assert not table.sync(index)  # unchanged: the rows are not read again
    assert len(reads) == 1

    # A refresh elsewhere (another replica, a bulk load, `mpi linker refresh-tf`).
    _index(session, "zoe", start=3)
    refresh(session, ARTIFACT)
    assert table.sync(index)
    assert "zoe" in table.values(index)["given_name"]
    assert len(reads) == 2


def test_a_change_of_frequency_alone_is_seen(session):
    _index(session, "maria", "ana")
    refresh(session, ARTIFACT)
    index, _ = _reading(session)
    table = FrequencyTable()
    before = table.values(index)["given_name"]["maria"]

    _index(session, "maria", start=2)  # the same values, one more record
    refresh(session, ARTIFACT)

    assert table.sync(index)
    assert table.values(index)["given_name"]["maria"] > before
