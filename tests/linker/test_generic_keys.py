"""Generic blocking keys: a key more records share than a block may hold is left out of the
candidate search for that value, counted in /metrics, while specific keys still find."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mpi_linker.app import create_app
from mpi_linker.features import MAX_BLOCK_SIZE, blocking_keys, features
from mpi_linker.settings import Settings
from mpi_store.repositories import LinkerIndexRepository

COMMON = "fam_token_sex:SM0|female"


def test_a_key_held_by_a_full_block_is_generic(session, index_patients):
    held = index_patients([COMMON, "phone:5550100"], {}, MAX_BLOCK_SIZE)
    (other,) = index_patients([COMMON, "ssn:123"], {}, 1, start=MAX_BLOCK_SIZE)
    index = LinkerIndexRepository(session)

    search = index.search(
        [COMMON, "phone:5550100", "ssn:123", "ssn:unknown"], bound=MAX_BLOCK_SIZE + 1, limit=500
    )
    assert search.generic_keys == [COMMON]
    # The specific keys still find: the phone's holders and the one SSN holder.
    assert {c.record_id for c in search.candidates} == {*held, other}
    # Each shares one specific key (the generic one is not counted); the earliest first.
    assert search.candidates[0].record_id == held[0]
    assert search.candidates[0].shared_keys == ["phone:5550100"]

    # The record itself does not count: without it, the block is one short of full.
    excluded = index.search([COMMON], bound=MAX_BLOCK_SIZE + 1, limit=5, exclude_record_id=other)
    assert excluded.generic_keys == []
    assert len(excluded.candidates) == 5
    assert index.search([], bound=MAX_BLOCK_SIZE, limit=5).candidates == []


@pytest.fixture
def linker(database_url, session_factory):
    app = create_app(Settings(database_url=database_url))
    with TestClient(app) as client:
        app.state.session_factory = session_factory
        yield client


def test_the_search_leaves_a_generic_key_out_and_still_finds_by_a_specific_one(
    linker, session, index_patients
):
    maria = features(
        {
            "given_name": "Maria",
            "family_name": "Smith",
            "sex": "female",
            "birth_date": "1984-03-12",
            "phone": "617-555-0100",
        }
    )
    keys = blocking_keys(maria)
    common = next(key for key in keys if key.startswith("fam_token_sex:"))
    stranger = {**maria, "given_name": "ann", "birth_date": "1950-01-01", "phone": None}
    strangers = index_patients([common], stranger, MAX_BLOCK_SIZE)
    (same,) = index_patients(keys, maria, 1, start=len(strangers))
    session.commit()

    body = linker.post("/score", json={"features": maria, "blocking_keys": keys}).json()

    assert [c["record_id"] for c in body["candidates"]] == [same]
    assert body["generic_key_kinds"] == ["fam_token_sex"]
    assert body["capped"] is False
    metrics = linker.get("/metrics").text
    assert 'mpi_linker_generic_keys_total{rule="fam_token_sex"} 1.0' in metrics


def test_a_key_below_the_bound_still_finds_every_holder(linker, session, index_patients):
    row = features({"given_name": "Wei", "family_name": "Li", "sex": "male"})
    keys = blocking_keys(row)
    held = index_patients(keys, row, MAX_BLOCK_SIZE - 1)
    session.commit()

    body = linker.post("/score", json={"features": row, "blocking_keys": keys}).json()

    assert sorted(c["record_id"] for c in body["candidates"]) == held
    assert body["generic_key_kinds"] == []
