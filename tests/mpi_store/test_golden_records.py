"""Golden-record repository: locking a patient follows merges to the live survivor."""

from __future__ import annotations

from mpi_store.repositories import GoldenRecordRepository


def test_lock_active_follows_redirects_to_the_survivor(session):
    goldens = GoldenRecordRepository(session)
    absorbed, middle, survivor = goldens.create(), goldens.create(), goldens.create()
    absorbed.status, absorbed.redirect_to = "redirected", middle.id
    middle.status, middle.redirect_to = "redirected", survivor.id
    session.flush()

    assert goldens.lock_active(absorbed.id).id == survivor.id
    assert goldens.lock_active(survivor.id).id == survivor.id
