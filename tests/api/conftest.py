"""Api test fixtures: an app on the test transaction, keys, and record bodies."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from mpi_api.app import create_app
from mpi_api.auth.service import create_key
from mpi_api.linker_client import LinkerClient
from mpi_api.records.matching import LinkerMatcher
from mpi_api.settings import Settings
from mpi_devtools.drill.stack import free_port, up_command
from mpi_linker.app import create_app as create_linker_app
from mpi_linker.settings import Settings as LinkerSettings
from mpi_store.db import unit_of_work
from mpi_store.domain.enums import Scope

DEV_KEY = "mpik_test_dev_key_0123456789abcdef"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, environment="dev", dev_api_key=DEV_KEY)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture(scope="session")
def linker_app(database_url: str) -> Iterator[FastAPI]:
    """One warm linker (the shipped model) for the whole run; tests rebind its sessions."""
    app = create_linker_app(LinkerSettings(database_url=database_url))
    with TestClient(app):
        yield app


@pytest.fixture
def linker_http(
    linker_app: FastAPI, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    """The linker in-process, reading through the test transaction (it sees what the api
    wrote, as the real linker sees committed rows)."""
    with TestClient(linker_app) as http:
        linker_app.state.session_factory = session_factory
        yield http


@pytest.fixture
def client(
    app: FastAPI, session_factory: sessionmaker[Session], linker_http: TestClient
) -> Iterator[TestClient]:
    with TestClient(app, headers={"Authorization": f"Bearer {DEV_KEY}"}) as client:
        app.state.session_factory = session_factory
        app.state.matcher = LinkerMatcher(LinkerClient(linker_http, retries=0))
        yield client


@pytest.fixture
def anonymous(client: TestClient) -> TestClient:
    client.headers.pop("Authorization")
    return client


@pytest.fixture
def make_key(session_factory: sessionmaker[Session]) -> Callable[..., str]:
    def make(
        scopes: list[Scope], sources: list[str] | None = None, *, lenient: bool = False
    ) -> str:
        with unit_of_work(session_factory) as session:
            _, key = create_key(
                session, name="test", scopes=scopes, allowed_sources=sources, lenient=lenient
            )
        return key

    return make


@pytest.fixture
def steward(client: TestClient, make_key: Callable[..., str]) -> TestClient:
    """A client with a key named `test` that may write records, read patients and decide
    links (merge, unmerge, split)."""
    scopes = [Scope.RECORDS_WRITE, Scope.PATIENTS_READ, Scope.LINKS_WRITE]
    client.headers["Authorization"] = f"Bearer {make_key(scopes)}"
    return client


@pytest.fixture
def make_record() -> Callable[..., dict[str, Any]]:
    counter = iter(range(1, 1_000_000))

    def make(**overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "source": "FAC1",
            "source_record_id": f"MRN{next(counter):06d}",
            "given_name": "Maria",
            "middle_name": "Luisa",
            "family_name": "Gonzalez",
            "birth_date": "1984-03-12",
            "sex": "female",
            "address_line1": "12 Elm Street",
            "city": "Springfield",
            "state": "MA",
            "postcode": "01103",
            "phone": "413-555-0123",
            "email": "maria@example.org",
            "ssn": "512-44-9087",
            "identifiers": [{"system": "urn:fac1:mrn", "value": "A1"}],
        }
        body.update(overrides)
        return body

    return make


@pytest.fixture
def other_person() -> dict[str, Any]:
    """Demographics sharing nothing with `make_record`'s defaults."""
    return {
        "given_name": "Oluwaseun",
        "middle_name": None,
        "family_name": "Abernathy",
        "birth_date": "1951-11-30",
        "sex": "male",
        "address_line1": "990 Harbor Road",
        "city": "Gloucester",
        "postcode": "01930",
        "phone": "978-555-7781",
        "email": None,
        "ssn": "287-65-4301",
        "identifiers": [],
    }


@pytest.fixture
def moved() -> dict[str, Any]:
    """`make_record`'s patient seen at another facility: a nickname, a typo'd family name, a
    birth date a year and some days off, a move and no SSN. The shipped linker puts the pair
    in the gray zone (p about 0.1)."""
    return {
        "given_name": "Mary",
        "family_name": "Gonzales",
        "birth_date": "1985-03-21",
        "ssn": None,
        "address_line1": "7 Oak Avenue",
        "city": "Boston",
        "postcode": "02110",
        "phone": None,
        "email": None,
        "identifiers": [],
    }


@dataclass(frozen=True)
class RunningMpi:
    url: str
    port: int
    log: Path


@pytest.fixture
def mpi_up(tmp_path: Path) -> Callable[[dict[str, str]], AbstractContextManager[RunningMpi]]:
    """Start `mpi up` as a real process (free ports, state in tmp_path), wait until it is
    ready, and stop it with Ctrl-C (SIGINT) afterwards; it must exit cleanly."""

    @contextmanager
    def start(env: dict[str, str]) -> Iterator[RunningMpi]:
        port = free_port()
        log_path = tmp_path / "up.log"
        command = up_command(
            port=port, linker_port=free_port(), redis_port=free_port(), state_dir=tmp_path
        )
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            running = RunningMpi(f"http://127.0.0.1:{port}", port, log_path)
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if httpx.get(f"{running.url}/readyz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.3)
                yield running
            finally:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=90)
        assert process.returncode == 0, log_path.read_text()

    return start


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run `app` under a real uvicorn server on a loopback port."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", workers=1)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_api(settings: Settings, database_url: str, committed_engine: Engine) -> Iterator[str]:
    """Real uvicorn servers (linker and api) on loopback ports, committing to the test database."""
    with serve(create_linker_app(LinkerSettings(database_url=database_url))) as linker_url:
        api_settings = settings.model_copy(update={"linker_url": linker_url})
        with serve(create_app(api_settings)) as api_url:
            yield api_url


@pytest.fixture
def live_client(live_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=live_api, headers={"Authorization": f"Bearer {DEV_KEY}"}, timeout=30
    ) as client:
        yield client
