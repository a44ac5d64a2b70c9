"""How an HTTP service runs: uvicorn on an app factory, with the keep-alive every deployment
shares (`mpi-api`, `mpi-linker`, their images, the chart and `mpi up` all start them this way).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Annotated

import typer

from mpi_store.domain.errors import ConfigurationError
from mpi_store.settings import load_settings

# Idle keep-alive connections are kept past any client's or load balancer's own idle timeout
# (httpx 5 s, nginx and cloud load balancers 60 s): a server closing a connection at the moment
# a client reuses it cuts that request (uvicorn's default is 5 s, the same as httpx's).
KEEP_ALIVE_SECONDS = 75


def serve(factory: str, *, host: str, port: int, access_log: bool = True) -> None:
    """Serve the app `factory` (`module:function`) until SIGTERM or Ctrl-C. The access log
    is on by default (the api drops query strings from it: `mpi_api.logs`)."""
    import uvicorn

    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        access_log=access_log,
    )


def entry_point(factory: str, *, settings: str, port: int, summary: str) -> Callable[[], None]:
    """The command line of a service serving `factory`: `--host`, `--port` (default `port`),
    `--access-log/--no-access-log`, and `--check-settings`, which loads `settings`
    (`module:Class`) from the environment and exits, 2 with the one-line reason if it refuses
    them (a pre-flight for `mpi up`, a container or a chart's hook)."""

    def run(
        host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on")] = port,
        access_log: Annotated[bool, typer.Option(help="Log each request")] = True,
        check_settings: Annotated[
            bool, typer.Option(help="Check the settings (MPI_*) and exit without serving")
        ] = False,
    ) -> None:
        if check_settings:
            _check(settings)
            return
        serve(factory, host=host, port=port, access_log=access_log)

    run.__doc__ = summary
    return lambda: typer.run(run)


def _check(settings: str) -> None:
    module, name = settings.split(":")
    try:
        load_settings(getattr(importlib.import_module(module), name))
    except ConfigurationError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
