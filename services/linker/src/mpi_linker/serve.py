"""`mpi-linker`: the linker's HTTP server (also `python -m mpi_linker.serve`)."""

from __future__ import annotations

from typing import Annotated

import typer

from mpi_store.serving import serve

FACTORY = "mpi_linker.app:create_app"


def run(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8010,
    access_log: Annotated[bool, typer.Option(help="Log each request")] = True,
) -> None:
    """Serve the linker (settings from MPI_* variables)."""
    serve(FACTORY, host=host, port=port, access_log=access_log)


def main() -> None:
    typer.run(run)


if __name__ == "__main__":
    main()
