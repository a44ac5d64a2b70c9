"""The agreed command of an HTTP process, as the Dockerfile and the chart must give it."""

from __future__ import annotations

from mpi_api.cli import KEEP_ALIVE_SECONDS


def uvicorn(factory: str, port: int) -> list[str]:
    return [
        "uvicorn",
        factory,
        "--factory",
        "--host",
        "0.0.0.0",
        "--port",
        str(port),
        # Past any client's idle timeout, as `mpi up` serves (mpi_api.cli).
        "--timeout-keep-alive",
        str(KEEP_ALIVE_SECONDS),
    ]
