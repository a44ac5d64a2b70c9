"""Term frequencies from the deployment's own records, shrunk towards the model's u."""

from __future__ import annotations

import pytest

from mpi_linker.features import TF_COLUMNS
from mpi_linker.model.artifact import load
from mpi_linker.scoring import exact_u
from mpi_linker.term_frequencies import PSEUDO_RECORDS, Refresher, refresh
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
    refresher = Refresher(session_factory, lambda: ARTIFACT, interval=60, growth=0.5)
    assert not refresher.check()  # nothing indexed yet

    _index(session, "maria", "ana")
    assert refresher.check()
    assert set(_frequencies(session, "given_name")) == {"maria", "ana"}

    _index(session, "maria", "ana", start=2)  # 4 records: grown by half
    _index(session, "lucia", start=4)
    assert refresher.check()
    u = exact_u(ARTIFACT.splink)["given_name"]
    assert _frequencies(session, "given_name")["maria"] == pytest.approx(
        (2 + PSEUDO_RECORDS * u) / 1005
    )
    assert not refresher.check()  # 5 records, no growth since
