"""`mpi up` and `mpi drill`, added to the `mpi` command through its `mpi.commands` entry points.

`mpi up` starts every service as its own process, as the images do (`mpi-linker`, `mpi-api`,
`mpi-relay`, `mpi-worker`, by module name), and keeps them running; nothing here imports a
service.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from mpi_devtools.supervise import Child, require_free_ports, supervise
from mpi_store.domain.errors import ConfigurationError
from mpi_store.embedded import DEFAULT_STATE_DIR, resolve_database
from mpi_store.migrate import upgrade

# The HTTP services, started (and their settings checked) through their entry points' modules.
_LINKER = "mpi_linker.serve"
_API = "mpi_api.serve"


def up(
    host: Annotated[str, typer.Option(help="Interface the api listens on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the api")] = 8000,
    linker_port: Annotated[int, typer.Option(help="Port of the linker (loopback)")] = 8010,
    redis_port: Annotated[
        int, typer.Option(help="Port of the embedded Redis (loopback; when MPI_REDIS_URL is unset)")
    ] = 6389,
    state_dir: Annotated[
        Path, typer.Option(help="Embedded servers' data (when MPI_*_URL are unset)")
    ] = DEFAULT_STATE_DIR,
) -> None:
    """Start the MPI: Postgres and Redis (embedded unless MPI_DATABASE_URL / MPI_REDIS_URL are
    set), linker, api, outbox relay and adjudication worker."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    adjudication = _adjudication_installed()
    embedded_redis = adjudication and not os.environ.get("MPI_REDIS_URL")
    require_free_ports({port: "--port"}, host=host)
    loopback = {
        linker_port: "--linker-port",
        **({redis_port: "--redis-port"} if embedded_redis else {}),
    }
    require_free_ports(loopback)
    database = resolve_database(state_dir, create=True)
    dev_key = os.environ.get("MPI_DEV_API_KEY") or "mpik_dev_" + secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "MPI_DATABASE_URL": database.url,
        "MPI_DEV_API_KEY": dev_key,
        "MPI_API_ENVIRONMENT": "dev",
        "MPI_API_LINKER_URL": f"http://127.0.0.1:{linker_port}",
    }
    for module in (_API, _LINKER):
        _check_settings(module, env)
    upgrade(database.url)
    if "MPI_DEV_API_KEY" not in os.environ:
        print(f"Dev API key (all scopes): {dev_key}")
    print(f"MPI api on http://{host}:{port} (docs at /docs). Ctrl-C stops everything.")
    broker = None
    if embedded_redis:
        from mpi_devtools.embedded_redis import start_redis

        broker = start_redis(state_dir.resolve() / "redis", redis_port)
        env["MPI_REDIS_URL"] = broker.url
    elif not adjudication:
        print("Gray-zone adjudication is off: install the `classifier` extra for relay and worker.")
    children = [
        Child("linker", _service(_LINKER, "127.0.0.1", linker_port), env),
        Child("api", _service(_API, host, port), env),
    ]
    if adjudication:
        children += [
            Child(name, [sys.executable, "-m", "mpi_classifier.cli", name], env)
            for name in ("relay", "worker")
        ]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Explicitly: a shell that starts `mpi up` in the background makes it ignore SIGINT, and
    # Ctrl-C (or a test's SIGINT) must still stop everything.
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    broker_alive = supervise(children, stop=stop, broker=broker)
    del database  # stops the embedded server, if this command started it
    if not broker_alive:
        raise typer.Exit(1)


def drill(
    profile: Annotated[
        str, typer.Option(help="short (8 writers, 30 s) or full (32 writers, 5 min)")
    ] = "short",
    out: Annotated[Path | None, typer.Option(help="Results JSON")] = None,
) -> None:
    """Start an own stack on loopback (own embedded Postgres and Redis), run the reliability
    and security drills against it, print their table and write it as JSON; exit 1 on any
    failure."""
    from rich.console import Console

    from mpi_devtools.drill.run import PROFILES, run_drill

    if profile not in PROFILES:
        raise typer.BadParameter(f"--profile is one of {', '.join(PROFILES)}")
    path = out or Path("benchmarks/results") / f"drill-{profile}.json"
    if not run_drill(profile, out=path, console=Console()):
        raise typer.Exit(1)


def _check_settings(module: str, env: dict[str, str]) -> None:
    """Fail here, in one line, on a setting the service would refuse at start (its own
    `--check-settings`), rather than have the supervisor restart it again and again."""
    check = subprocess.run(
        [sys.executable, "-m", module, "--check-settings"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        lines = check.stderr.strip().splitlines()
        raise ConfigurationError(lines[-1] if lines else f"{module} refused its settings")


def _adjudication_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("mpi_classifier", "celery"))


def _service(module: str, host: str, port: int) -> list[str]:
    """An HTTP service as its entry point runs it (`mpi-api`, `mpi-linker`), quieter."""
    return [sys.executable, "-m", module, "--host", host, "--port", str(port), "--no-access-log"]
