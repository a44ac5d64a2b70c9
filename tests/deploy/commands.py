"""The agreed command of an HTTP process, as the Dockerfile and the chart must give it: the
service's own entry point (which serves with `mpi_store.serving`'s keep-alive, as `mpi up`)."""

from __future__ import annotations


def http_service(entry_point: str, port: int) -> list[str]:
    return [entry_point, "--host", "0.0.0.0", "--port", str(port)]
