"""The api's FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic.json_schema import models_json_schema
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from mpi_api.adjudications.router import router as adjudications_router
from mpi_api.audit.router import router as audit_router
from mpi_api.events.router import router as events_router
from mpi_api.fhir import outcome
from mpi_api.fhir.router import router as fhir_router
from mpi_api.health.router import router as health_router
from mpi_api.linker_client import LinkerClient
from mpi_api.links.router import router as links_router
from mpi_api.logs import keep_query_strings_out
from mpi_api.middleware import (
    BodyLimitMiddleware,
    CatchAllMiddleware,
    Metrics,
    MetricsMiddleware,
    error_response,
)
from mpi_api.patients.router import router as patients_router
from mpi_api.records.matching import LinkerMatcher
from mpi_api.records.router import router as records_router
from mpi_api.settings import Settings
from mpi_store.db import is_transient, make_engine, make_sessionmaker
from mpi_store.domain.contracts import RecordCreate
from mpi_store.domain.errors import DatabaseUnavailable, InvalidRecord, MPIError
from mpi_store.settings import load_settings

log = logging.getLogger(__name__)


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings(Settings)
    keep_query_strings_out()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
        app.state.engine = engine
        app.state.session_factory = make_sessionmaker(engine)
        http = httpx.Client(base_url=settings.linker_url, timeout=settings.linker_timeout_seconds)
        app.state.matcher = LinkerMatcher(LinkerClient(http, retries=settings.linker_retries))
        try:
            yield
        finally:
            http.close()
            engine.dispose()

    app = FastAPI(
        title="Master Patient Index",
        version="0.1.0",
        summary="Which patient does this record belong to?",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(CatchAllMiddleware)
    app.add_exception_handler(MPIError, _mpi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.include_router(records_router)
    app.include_router(patients_router)
    app.include_router(adjudications_router)
    app.include_router(links_router)
    app.include_router(events_router)
    app.include_router(audit_router)
    app.include_router(health_router)
    app.include_router(fhir_router)
    _document_record_body(app)
    return app


def _document_record_body(app: FastAPI) -> None:
    """`POST /records` reads its body itself (strict or lenient, `records/intake.py`) and
    documents it as `RecordCreate`: put that schema, and those it uses, in the components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            _, definitions = models_json_schema(
                [(RecordCreate, "validation")], ref_template="#/components/schemas/{model}"
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in definitions["$defs"].items():
                schemas.setdefault(name, schema)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def _is_fhir(request: Request) -> bool:
    return outcome.is_fhir_path(request.url.path)


async def _mpi_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, MPIError)
    if _is_fhir(request):
        return outcome.error_outcome(error)
    return error_response(error)


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    """A deadlock, serialization failure or database restart rolled the transaction back:
    503 with `Retry-After` (every write is idempotent, so the client retries). Any other
    database error is unexpected: the catch-all's 500."""
    if not is_transient(error):
        raise error
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    log.warning(
        "transient database error %s on %s", sqlstate or "(no connection)", request.url.path
    )
    return await _mpi_error(
        request, DatabaseUnavailable("the database could not complete the request; retry")
    )


# Starlette's own answers (no route, wrong method, unparsable body) in our error format.
_HTTP_ERRORS = {400: "InvalidJSON", 404: "NotFound", 405: "MethodNotAllowed"}


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    if _is_fhir(request):
        return outcome.error_outcome(error)
    return JSONResponse(
        {"error": _HTTP_ERRORS.get(error.status_code, "HTTPError"), "detail": error.detail},
        status_code=error.status_code,
        headers=error.headers,
    )


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    """422 naming each bad field; never echoes the submitted values (they may be PHI)."""
    assert isinstance(error, RequestValidationError)
    if _is_fhir(request):
        return outcome.error_outcome(error)
    problems: list[dict[str, Any]] = []
    in_body = False
    for item in error.errors():
        in_body = in_body or item["loc"][:1] == ("body",)
        location = [str(part) for part in item["loc"] if part != "body"]
        problems.append(
            {"field": ".".join(location) or "body", "type": item["type"], "message": item["msg"]}
        )
    # A bad record is the sender's data to fix; a bad path or query is the caller's request.
    name = InvalidRecord.__name__ if in_body else "InvalidRequest"
    return JSONResponse({"error": name, "detail": problems}, status_code=422)
