"""Api test fixtures: an app on the test transaction, keys, and record bodies."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
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
from mpi_api.settings import Settings
from mpi_store.db import unit_of_work
from mpi_store.enums import Scope

DEV_KEY = "mpik_test_dev_key_0123456789abcdef"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, environment="dev", dev_api_key=DEV_KEY)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI, session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(app, headers={"Authorization": f"Bearer {DEV_KEY}"}) as client:
        app.state.session_factory = session_factory
        yield client


@pytest.fixture
def anonymous(client: TestClient) -> TestClient:
    client.headers.pop("Authorization")
    return client


@pytest.fixture
def make_key(session_factory: sessionmaker[Session]) -> Callable[..., str]:
    def make(scopes: list[Scope], sources: list[str] | None = None) -> str:
        with unit_of_work(session_factory) as session:
            _, key = create_key(session, name="test", scopes=scopes, allowed_sources=sources)
        return key

    return make


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_api(settings: Settings, committed_engine: Engine) -> Iterator[str]:
    """A real uvicorn server on a loopback port, committing to the test database."""
    app = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", workers=1)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def live_client(live_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=live_api, headers={"Authorization": f"Bearer {DEV_KEY}"}, timeout=30
    ) as client:
        yield client
