"""/healthz, /readyz and /metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mpi_api.app import create_app
from mpi_api.settings import Settings


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_when_migrated(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["migrations"] == "current"


def test_readyz_is_503_when_migrations_are_behind(empty_database_url):
    app = create_app(Settings(database_url=empty_database_url))
    with TestClient(app) as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["migrations"] == "behind"


def test_readyz_is_503_when_the_database_is_unreachable():
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    with TestClient(create_app(Settings(database_url=url))) as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_metrics_count_requests_by_route_template(client, make_record):
    client.post("/records", json=make_record())
    client.get("/patients/mpi_unknown")

    text = client.get("/metrics").text

    assert 'mpi_http_requests_total{method="POST",route="/records",status="201"} 1.0' in text
    assert 'route="/patients/{mpi_id}",status="404"' in text
    assert "mpi_http_request_duration_seconds_bucket" in text


def test_openapi_has_stable_operation_ids(client):
    paths = client.get("/openapi.json").json()["paths"]

    assert paths["/records"]["post"]["operationId"] == "create_record"
    assert paths["/patients/{mpi_id}"]["get"]["operationId"] == "read_patient"
