"""Replaying a dataset into an MPI over HTTP, against a mock server."""

from __future__ import annotations

import asyncio
import json

import httpx
import pyarrow.parquet as pq
import pytest

from mpi_store.domain.contracts import RecordCreate
from mpi_training.generate import GenerateParams, generate
from mpi_training.replay import replay, write_clusters

PATIENTS = 8


@pytest.fixture
def dataset(tmp_path, fake_parts):
    params = GenerateParams.from_preset("clinfuse-training", patients=PATIENTS, seed=3)
    fake_parts(tmp_path, params.simulation, PATIENTS)
    manifest = generate(tmp_path, params)
    return tmp_path, manifest["counts"]["records"]


class FakeMpi:
    """POST answers with a provisional id; GET later reports the merged one."""

    def __init__(self, *, fail_first: int = 0, reject: set[str] | None = None) -> None:
        self.fail_first = fail_first
        self.reject = reject or set()
        self.posts = 0
        self.bodies: dict[tuple[str, str], dict] = {}
        self.auth: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.auth.add(request.headers.get("Authorization", ""))
        if request.method == "POST":
            self.posts += 1
            if self.posts <= self.fail_first:
                return httpx.Response(503, json={"error": "unavailable"})
            body = json.loads(request.content)
            key = (body["source"], body["source_record_id"])
            if body["source_record_id"] in self.reject:
                return httpx.Response(422, json={"error": "invalid_record", "detail": []})
            RecordCreate.model_validate(body)
            self.bodies[key] = body
            return httpx.Response(
                201, json={"mpi_id": f"provisional-{key[1]}", "link_state": "final"}
            )
        _, _, _source, record_id = request.url.path.split("/")
        return httpx.Response(200, json={"mpi_id": f"final-{record_id}", "link_source": "AUTO"})


def _run(data_dir, server):
    return asyncio.run(
        replay(
            data_dir,
            url="http://mpi.test",
            api_key="secret",
            concurrency=3,
            backoff=0.0,
            transport=httpx.MockTransport(server),
        )
    )


def test_retries_a_503_then_succeeds(dataset):
    data_dir, records = dataset
    server = FakeMpi(fail_first=2)
    result = _run(data_dir, server)
    assert result.posted == records
    assert not result.rejected
    assert not result.failed
    assert server.posts == records + 2
    assert server.auth == {"Bearer secret"}


def test_counts_a_422_as_a_reject_and_does_not_retry_it(dataset):
    data_dir, records = dataset
    first = _run(data_dir, FakeMpi())
    victim = sorted(first.clusters)[0]
    server = FakeMpi(reject={victim[1]})
    result = _run(data_dir, server)
    assert set(result.rejected) == {victim}
    assert result.rejected[victim].startswith("422")
    assert result.posted == records - 1
    assert server.posts == records


def test_exports_the_mpi_id_read_back_after_all_posts(dataset, tmp_path):
    data_dir, records = dataset
    result = _run(data_dir, FakeMpi())
    assert len(result.clusters) == records
    assert all(mpi_id == f"final-{key[1]}" for key, (mpi_id, _) in result.clusters.items())
    write_clusters(result, tmp_path / "clusters.parquet")
    rows = pq.read_table(tmp_path / "clusters.parquet").to_pylist()
    assert len(rows) == records
    assert {r["link_source"] for r in rows} == {"AUTO"}


def test_posts_carry_every_clinical_event(dataset):
    data_dir, _ = dataset
    server = FakeMpi()
    _run(data_dir, server)
    posted = sum(len(items) for b in server.bodies.values() for items in b["clinical"].values())
    assert posted == pq.read_table(data_dir / "events.parquet").num_rows
