"""`GET /adjudications` and `POST /adjudications/{id}/requeue`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from mpi_classifier.relay import redeliver_stale
from mpi_store.domain.enums import Scope
from mpi_store.models import Adjudication, Outbox


def _gray_pair(client, make_record):
    client.post("/records", json=make_record(source="FAC1", source_record_id="A1"))
    client.post("/records", json=make_record(source="FAC1", source_record_id="A2"))


def test_pending_adjudications_are_listed_with_their_scores(client, make_record):
    _gray_pair(client, make_record)

    page = client.get("/adjudications", params={"state": "pending"}).json()

    (item,) = page["items"]
    assert item["state"] == "pending"
    assert item["record"] == {"source": "FAC1", "source_record_id": "A2"}
    assert item["candidate"] == {"source": "FAC1", "source_record_id": "A1"}
    assert 0 < item["splink_probability"] <= 1
    assert item["verdict"] is None
    assert client.get("/adjudications", params={"state": "failed"}).json()["items"] == []


def test_a_failed_adjudication_is_requeued_with_a_new_outbox_row(client, make_record, session):
    _gray_pair(client, make_record)
    adjudication = session.scalars(select(Adjudication)).one()
    adjudication.state = "failed"
    session.flush()

    response = client.post(f"/adjudications/{adjudication.id}/requeue")

    assert response.status_code == 200
    assert response.json()["state"] == "pending"
    payloads = [row.payload for row in session.scalars(select(Outbox).order_by(Outbox.id))]
    assert payloads[-1] == {
        "record_id": adjudication.record_id,
        "adjudication_ids": [adjudication.id],
    }


def test_a_pending_adjudication_stranded_by_a_dead_worker_is_requeued(client, make_record, session):
    _gray_pair(client, make_record)
    adjudication = session.scalars(select(Adjudication)).one()
    # Its worker's main process was killed 20 minutes ago: nothing touched it since.
    session.execute(
        update(Adjudication)
        .where(Adjudication.id == adjudication.id)
        .values(updated_at=func.now() - dt.timedelta(minutes=20))
    )
    session.expire_all()
    outbox_rows = session.scalar(select(func.count()).select_from(Outbox))

    response = client.post(f"/adjudications/{adjudication.id}/requeue")

    assert response.status_code == 200
    assert response.json()["state"] == "pending"
    assert session.scalar(select(func.count()).select_from(Outbox)) == outbox_rows + 1
    again = client.post(f"/adjudications/{adjudication.id}/requeue")
    assert again.status_code == 409


def test_only_failed_or_stale_adjudications_can_be_requeued(client, make_record, session):
    _gray_pair(client, make_record)
    adjudication = session.scalars(select(Adjudication)).one()

    response = client.post(f"/adjudications/{adjudication.id}/requeue")

    assert response.status_code == 409
    assert client.post("/adjudications/999999/requeue").status_code == 404


def test_requeue_needs_the_admin_scope(client, make_record, make_key, session):
    _gray_pair(client, make_record)
    adjudication = session.scalars(select(Adjudication)).one()
    reader = make_key([Scope.PATIENTS_READ])
    headers = {"Authorization": f"Bearer {reader}"}

    listed = client.get("/adjudications", headers=headers)
    requeued = client.post(f"/adjudications/{adjudication.id}/requeue", headers=headers)

    assert listed.status_code == 200
    assert requeued.status_code == 403


def test_the_relay_redelivers_a_pending_adjudication_stranded_by_a_dead_worker(
    client, make_record, session, session_factory
):
    _gray_pair(client, make_record)
    adjudication = session.scalars(select(Adjudication)).one()
    stale_after = dt.timedelta(minutes=15)
    assert redeliver_stale(session_factory, stale_after=stale_after, limit=10) == 0
    session.execute(
        update(Adjudication)
        .where(Adjudication.id == adjudication.id)
        .values(updated_at=func.now() - dt.timedelta(minutes=20))
    )
    outbox_rows = session.scalar(select(func.count()).select_from(Outbox))

    assert redeliver_stale(session_factory, stale_after=stale_after, limit=10) == 1

    payloads = [row.payload for row in session.scalars(select(Outbox).order_by(Outbox.id))]
    assert len(payloads) == outbox_rows + 1
    assert payloads[-1] == {
        "record_id": adjudication.record_id,
        "adjudication_ids": [adjudication.id],
    }
    # Touched: the next sweep leaves it be for another period.
    assert redeliver_stale(session_factory, stale_after=stale_after, limit=10) == 0
    session.refresh(adjudication)
    assert adjudication.state == "pending"
