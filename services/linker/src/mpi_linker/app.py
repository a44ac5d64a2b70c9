"""The linker's FastAPI application factory: one warm Splink model per process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI, Response
from fastapi.routing import APIRoute
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from mpi_linker.model.artifact import load
from mpi_linker.score.router import router as score_router
from mpi_linker.scoring import Scorer
from mpi_linker.settings import Settings
from mpi_linker.term_frequencies import FrequencyTable, Refresher
from mpi_store.db import make_engine, make_sessionmaker
from mpi_store.settings import load_settings


@dataclass
class LinkerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.latency = Histogram(
            "mpi_linker_score_seconds",
            "Time to retrieve and score one record's candidates",
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self.candidates = Histogram(
            "mpi_linker_candidates",
            "Candidates found per scored record",
            buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500),
            registry=self.registry,
        )
        self.capped = Counter(
            "mpi_linker_candidate_cap_hits",
            "Records whose candidates hit the cap",
            registry=self.registry,
        )
        self.generic_keys = Counter(
            "mpi_linker_generic_keys",
            "Blocking keys left out of a record's candidate search, by rule: more than "
            "MAX_BLOCK_SIZE records would share each",
            ["rule"],
            registry=self.registry,
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings(Settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
        app.state.engine = engine
        app.state.session_factory = make_sessionmaker(engine)
        app.state.scorer = Scorer(load(settings.model_path))
        app.state.frequencies = FrequencyTable()
        refresher = None
        if settings.tf_refresh_seconds:
            refresher = Refresher(
                app.state.session_factory,
                lambda: app.state.scorer.artifact,
                interval=settings.tf_refresh_seconds,
                growth=settings.tf_refresh_growth,
                table=app.state.frequencies,
            )
            refresher.start()
        try:
            yield
        finally:
            if refresher is not None:
                refresher.stop()
            engine.dispose()

    app = FastAPI(
        title="MPI linker",
        version="0.1.0",
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name if isinstance(route, APIRoute) else "",
    )
    app.state.settings = settings
    app.state.metrics = LinkerMetrics()
    app.include_router(score_router)

    @app.get("/healthz", operation_id="read_health")
    def read_health() -> dict[str, str]:
        return {"status": "ok", "model_version": app.state.scorer.artifact.version}

    @app.post("/model/reload", operation_id="reload_model")
    def reload_model() -> dict[str, str]:
        """Serve the model file again (after `mpi linker train` wrote a new one there).

        Requests already scoring finish on the old model; every link records the version
        that decided it.
        """
        app.state.scorer = Scorer(load(settings.model_path))
        return {"model_version": app.state.scorer.artifact.version}

    @app.get("/metrics", operation_id="read_metrics", include_in_schema=False)
    def read_metrics() -> Response:
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
