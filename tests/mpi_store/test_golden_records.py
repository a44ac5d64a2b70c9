"""Golden-record repository: locking a patient follows merges to the live survivor."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from mpi_store.models import GoldenRecord
from mpi_store.repositories import GoldenRecordRepository


def test_lock_active_follows_redirects_to_the_survivor(session):
    goldens = GoldenRecordRepository(session)
    absorbed, middle, survivor = goldens.create(), goldens.create(), goldens.create()
    absorbed.status, absorbed.redirect_to = "redirected", middle.id
    middle.status, middle.redirect_to = "redirected", survivor.id
    session.flush()

    assert goldens.lock_active(absorbed.id).id == survivor.id
    assert goldens.lock_active(survivor.id).id == survivor.id


def test_a_locked_patient_can_still_be_referenced(committed_engine):
    """The drill's deadlock: two ingests each locked one patient and inserted an adjudication
    naming the other's; the foreign-key check waited on the lock. It must not wait."""
    factory = sessionmaker(committed_engine)
    with factory.begin() as setup:
        target = GoldenRecordRepository(setup).create().id
    with factory() as locker, factory() as referrer:
        GoldenRecordRepository(locker).lock_active(target)
        referrer.execute(text("SET LOCAL lock_timeout = '2s'"))
        # Any row with a foreign key to the locked patient: here a redirect to it.
        referrer.add(
            GoldenRecord(
                mpi_id="mpi_referrer",
                status="redirected",
                attributes={},
                version=1,
                redirect_to=target,
            )
        )
        referrer.commit()
        locker.rollback()


def test_lockers_of_one_patient_still_serialise(committed_engine):
    factory = sessionmaker(committed_engine)
    with factory.begin() as setup:
        target = GoldenRecordRepository(setup).create().id
    with factory() as first, factory() as second:
        GoldenRecordRepository(first).lock_active(target)
        second.execute(text("SET LOCAL lock_timeout = '200ms'"))
        with pytest.raises(OperationalError) as waited:
            GoldenRecordRepository(second).lock_active(target)
        assert waited.value.orig.sqlstate == "55P03"
        first.rollback()
