"""`/healthz`, `/readyz`, `/metrics`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from mpi_store.migrate import is_current

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="read_health")
def read_health() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="read_readiness",
    responses={503: {"description": "Database, migrations or linker not ready"}},
)
def read_readiness(request: Request) -> JSONResponse:
    """Ready to take records: the database answers, its schema is at this code's newest
    migration, and the linker answers."""
    engine = request.app.state.engine
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = is_current(engine)
    except SQLAlchemyError:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    body = {
        "database": "ok",
        "migrations": "current" if current else "behind",
        "linker": "ok" if request.app.state.matcher.client.healthy() else "unreachable",
    }
    ready = body["migrations"] == "current" and body["linker"] == "ok"
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", **body},
        status_code=status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE,
    )


@router.get("/metrics", operation_id="read_metrics", include_in_schema=False)
def read_metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
