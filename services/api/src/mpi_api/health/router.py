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
    responses={503: {"description": "Database unreachable or migrations not current"}},
)
def read_readiness(request: Request) -> JSONResponse:
    """The database answers and its schema is at this code's newest migration."""
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
    if not current:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "migrations": "behind"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return JSONResponse({"status": "ok", "database": "ok", "migrations": "current"})


@router.get("/metrics", operation_id="read_metrics", include_in_schema=False)
def read_metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
