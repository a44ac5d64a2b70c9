"""`mpi up` runs the whole path: a gray pair posted to the api is adjudicated by the relay and
worker it started (embedded Redis), and the two patients become one."""

from __future__ import annotations

import os
import time

import httpx


def test_up_adjudicates_gray_pairs(
    database_url, committed_engine, mpi_up, make_record, moved, clinical, same_patient
):
    env = {
        **{k: v for k, v in os.environ.items() if k != "MPI_REDIS_URL"},
        "MPI_DATABASE_URL": database_url,
        "MPI_DEV_API_KEY": "mpik_" + "u" * 30,
        "MPI_CLASSIFIER_QUEUE": f"up-{os.getpid()}",
    }
    headers = {"Authorization": f"Bearer {env['MPI_DEV_API_KEY']}"}
    with mpi_up(env) as running:
        url = running.url
        first = httpx.post(
            f"{url}/records",
            json=make_record(source="FAC1", clinical=clinical(same_patient[0])),
            headers=headers,
        ).json()
        second = httpx.post(
            f"{url}/records",
            json=make_record(source="FAC2", clinical=clinical(same_patient[1]), **moved),
            headers=headers,
        ).json()
        assert second["link_state"] == "provisional"

        deadline = time.monotonic() + 90
        while True:
            answer = httpx.get(f"{url}/patients/{second['mpi_id']}", headers=headers)
            if answer.status_code == 308:
                break
            assert time.monotonic() < deadline, running.log.read_text()
            time.sleep(0.5)
        assert answer.json()["redirect_to"] == first["mpi_id"]
