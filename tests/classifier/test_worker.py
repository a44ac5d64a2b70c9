"""A real `celery worker` process against real Redis and Postgres: backend outages retry and
drain, and a worker process killed with SIGKILL mid-task leads to one redelivery and one effect."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest

from mpi_classifier.relay import CeleryPublisher, relay_once
from mpi_store.db import make_sessionmaker, unit_of_work
from mpi_store.repositories import AdjudicationRepository, LinkRepository


class FakeVllm:
    """A `/classify` endpoint that can be down (503), hang until released, or answer."""

    def __init__(self) -> None:
        self.mode = "up"
        self.requests = 0
        self.arrived = threading.Event()
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                inputs = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["input"]
                fake.requests += 1
                fake.arrived.set()
                if fake.mode == "hang":
                    fake.release.wait(30)
                if fake.mode == "down":
                    self.send_response(503)
                    self.end_headers()
                    return
                data = [
                    {"index": i, "label": "match", "probs": [0.01, 0.99], "num_classes": 2}
                    for i in range(len(inputs))
                ]
                body = json.dumps({"data": data}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def vllm() -> Iterator[FakeVllm]:
    fake = FakeVllm()
    yield fake
    fake.close()


@pytest.fixture
def start_worker(classifier_settings, database_url, vllm, tmp_path):
    """Start `celery worker` processes (each in its own session, so a test can kill it whole)."""
    card = tmp_path / "card.json"
    card.write_text(
        json.dumps(
            {
                "version": "fake-vllm-1",
                "fusion": {"weight": 1.0, "threshold": 0.5, "training_prior": 0.5},
            }
        )
    )
    started: list[subprocess.Popen] = []
    logs = []

    def start(**extra_env: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "MPI_DATABASE_URL": database_url,
            "MPI_REDIS_URL": classifier_settings.redis_url,
            "MPI_CLASSIFIER_QUEUE": classifier_settings.queue,
            "MPI_CLASSIFIER_BACKEND": "vllm",
            "MPI_CLASSIFIER_URL": vllm.url,
            "MPI_CLASSIFIER_MODEL_CARD": str(card),
            "MPI_CLASSIFIER_HTTP_RETRIES": "0",
            "MPI_CLASSIFIER_RETRY_BACKOFF_SECONDS": "0.2",
            "MPI_CLASSIFIER_RETRY_BACKOFF_MAX_SECONDS": "1",
            "MPI_CLASSIFIER_MAX_RETRIES": "50",
            **extra_env,
        }
        log = (tmp_path / "worker.log").open("ab")
        logs.append(log)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "mpi_classifier.worker:app",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                f"--queues={classifier_settings.queue}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for log in logs:
        log.close()


@pytest.fixture
def worker(start_worker) -> subprocess.Popen:
    return start_worker()


def _gray_pair(factory, store_on):
    with unit_of_work(factory) as session:
        store = store_on(session)
        candidate, _ = store.record(source="FAC1")
        record, _, (adjudication,) = store.gray_record([candidate], source="FAC2")
    return record.id, adjudication.id


def _wait_for_state(factory, adjudication_id, state, timeout=60.0, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with factory() as session:
            adjudication = AdjudicationRepository(session).get(adjudication_id)
            if adjudication.state == state:
                return adjudication
        time.sleep(0.1)
    raise AssertionError(
        f"adjudication not {state} in {timeout} s\n{log.read_text() if log else ''}"
    )


def test_backend_outage_retries_and_the_queue_drains_when_it_returns(
    committed_engine, classifier_settings, vllm, worker, store_on, tmp_path
):
    factory = make_sessionmaker(committed_engine)
    record_id, adjudication_id = _gray_pair(factory, store_on)
    vllm.mode = "down"
    publisher = CeleryPublisher(classifier_settings)
    relay_once(factory, publisher, batch_size=10)
    publisher.close()

    deadline = time.monotonic() + 60
    while vllm.requests < 3:
        assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
        time.sleep(0.1)
    with factory() as session:
        assert AdjudicationRepository(session).get(adjudication_id).state == "pending"
        assert LinkRepository(session).get_for_record(record_id).link_state == "provisional"
    vllm.mode = "up"

    decided = _wait_for_state(factory, adjudication_id, "done", log=tmp_path / "worker.log")

    assert (decided.verdict, decided.classifier_model) == ("match", "fake-vllm-1")
    with factory() as session:
        assert LinkRepository(session).get_for_record(record_id).link_source == "LLM"


def test_a_worker_process_killed_mid_task_is_redelivered_with_one_effect(
    committed_engine, classifier_settings, vllm, worker, store_on, tmp_path
):
    factory = make_sessionmaker(committed_engine)
    record_id, adjudication_id = _gray_pair(factory, store_on)
    vllm.mode = "hang"
    publisher = CeleryPublisher(classifier_settings)
    relay_once(factory, publisher, batch_size=10)
    publisher.close()
    assert vllm.arrived.wait(60), (tmp_path / "worker.log").read_text()

    (child,) = psutil.Process(worker.pid).children()
    os.kill(child.pid, signal.SIGKILL)
    vllm.mode = "up"
    vllm.release.set()

    decided = _wait_for_state(factory, adjudication_id, "done", log=tmp_path / "worker.log")
    time.sleep(1.0)  # a second effect, if there were one, would land now

    assert decided.verdict == "match"
    assert vllm.requests == 2
    with factory() as session:
        history = LinkRepository(session).history(record_id)
    assert [h.link_source for h in history] == ["AUTO", "LLM"]


@pytest.mark.slow
def test_a_whole_worker_killed_mid_task_is_redelivered_after_the_visibility_timeout(
    committed_engine, classifier_settings, vllm, start_worker, store_on, tmp_path
):
    timeouts = {
        "MPI_CLASSIFIER_TASK_TIME_LIMIT_SECONDS": "10",
        "MPI_CLASSIFIER_VISIBILITY_TIMEOUT_SECONDS": "12",
    }
    first = start_worker(**timeouts)
    factory = make_sessionmaker(committed_engine)
    record_id, adjudication_id = _gray_pair(factory, store_on)
    vllm.mode = "hang"
    publisher = CeleryPublisher(classifier_settings)
    relay_once(factory, publisher, batch_size=10)
    publisher.close()
    assert vllm.arrived.wait(60), (tmp_path / "worker.log").read_text()

    os.killpg(first.pid, signal.SIGKILL)  # the main process and its pool, no warm shutdown
    first.wait()
    vllm.mode = "up"
    vllm.release.set()
    start_worker(**timeouts)

    decided = _wait_for_state(
        factory, adjudication_id, "done", timeout=120, log=tmp_path / "worker.log"
    )
    time.sleep(1.0)

    assert decided.verdict == "match"
    with factory() as session:
        history = LinkRepository(session).history(record_id)
    assert [h.link_source for h in history] == ["AUTO", "LLM"]
