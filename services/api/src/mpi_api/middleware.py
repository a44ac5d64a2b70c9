"""ASGI middleware: the catch-all 500, request body limit and Prometheus request metrics."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mpi_api.fhir import outcome
from mpi_store.domain.errors import DependencyUnavailable, InternalError, MPIError, PayloadTooLarge

log = logging.getLogger(__name__)


def error_response(error: MPIError) -> JSONResponse:
    """The one rendering of every MPI error: `{"error": ClassName, "detail": ...}`."""
    # A dependency outage is transient: tell clients when to come back.
    headers = {"Retry-After": "5"} if isinstance(error, DependencyUnavailable) else None
    return JSONResponse(
        error.body(),
        status_code=error.status_code,
        headers=headers,
    )


def _answer(error: MPIError, scope: Scope) -> JSONResponse:
    """A middleware's own answer: an OperationOutcome under `/fhir`, else the error format."""
    if outcome.is_fhir_path(scope["path"]):
        return outcome.error_outcome(error)
    return error_response(error)


class CatchAllMiddleware:
    """Answer any unexpected exception with a 500 in the error format.

    Logs the exception's type and a request id only: an exception's message or traceback can
    carry a record's values (a driver error quotes its statement), so neither is written. The
    request id is in the response (`X-Request-ID` and `detail`) to match a report to the log.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            request_id = uuid.uuid4().hex
            log.error("unhandled %s, request id %s", _error_code(error), request_id)
            if started:
                return
            response = _answer(InternalError(f"internal error, request id {request_id}"), scope)
            response.headers["X-Request-ID"] = request_id
            await response(scope, receive, send)


def _error_code(error: Exception) -> str:
    """The exception's type and, for a database error, its SQLSTATE: never its message."""
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    return type(error).__name__ + (f" ({sqlstate})" if sqlstate else "")


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "mpi_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mpi_http_request_duration_seconds",
            "HTTP request latency by route template and method",
            ["route", "method"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )


class BodyLimitMiddleware:
    """413 for bodies over the limit, by `Content-Length` or by reading a streamed body first."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(f"request body over the {self.max_bytes}-byte limit")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.max_bytes:
                await _answer(too_large, scope)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        # No length declared (chunked): buffer up to the limit, then replay to the app.
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await _answer(too_large, scope)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replaying_receive() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replaying_receive, send)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def recording_send(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = _route_template(scope)
            method = scope["method"]
            self.metrics.requests.labels(route, method, str(status_code)).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    # Label by template (`/patients/{mpi_id}`), never by path: paths carry ids without bound.
    return str(getattr(scope.get("route"), "path", "unmatched"))
