"""The `mpi` command: run the MPI locally, manage keys and migrations.

Other packages add command groups through the `mpi.commands` entry-point group.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer

from mpi_api.embedded import EmbeddedRedis
from mpi_store.db import make_engine, make_sessionmaker, normalise_url, unit_of_work
from mpi_store.enums import Scope
from mpi_store.migrate import upgrade

app = typer.Typer(help="Master Patient Index", no_args_is_help=True)
keys_app = typer.Typer(help="API keys", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

DEFAULT_STATE_DIR = Path(".mpi")


def _database_url(state_dir: Path) -> tuple[object | None, str]:
    url = os.environ.get("MPI_DATABASE_URL")
    if url:
        return None, normalise_url(url)
    from mpi_api.embedded import start_postgres

    return start_postgres(state_dir.resolve() / "pgdata")


@app.command()
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
    server, url = _database_url(state_dir)
    upgrade(url)
    dev_key = os.environ.get("MPI_DEV_API_KEY") or "mpik_dev_" + secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "MPI_DATABASE_URL": url,
        "MPI_DEV_API_KEY": dev_key,
        "MPI_API_ENVIRONMENT": "dev",
    }
    if "MPI_DEV_API_KEY" not in os.environ:
        print(f"Dev API key (all scopes): {dev_key}")
    print(f"MPI api on http://{host}:{port} (docs at /docs). Ctrl-C stops everything.")
    linker_url = f"http://127.0.0.1:{linker_port}"
    env["MPI_API_LINKER_URL"] = linker_url
    broker = None
    adjudication = _adjudication_installed()
    if adjudication and not os.environ.get("MPI_REDIS_URL"):
        from mpi_api.embedded import start_redis

        broker = start_redis(state_dir.resolve() / "redis", redis_port)
        env["MPI_REDIS_URL"] = broker.url
    elif not adjudication:
        print("Gray-zone adjudication is off: install the `classifier` extra for relay and worker.")
    processes = [
        _uvicorn("mpi_linker.app:create_app", "127.0.0.1", linker_port, env),
        _uvicorn("mpi_api.app:create_app", host, port, env),
    ]
    if adjudication:
        # Through this command's own plugins (`mpi relay`, `mpi worker`): mpi_api never imports
        # the classifier package.
        processes += [
            subprocess.Popen([sys.executable, "-m", "mpi_api.cli", name], env=env)
            for name in ("relay", "worker")
        ]
    _supervise(processes, broker=broker)
    del server  # stops the embedded server, if this command started it


def _adjudication_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("mpi_classifier", "celery"))


def _uvicorn(factory: str, host: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            factory,
            "--factory",
            "--host",
            host,
            "--port",
            str(port),
            "--no-access-log",
        ],
        env=env,
    )


def _supervise(
    processes: list[subprocess.Popen[bytes]], *, broker: EmbeddedRedis | None = None
) -> None:
    """Wait until Ctrl-C/SIGTERM or a child (or the embedded broker) exits; then stop every
    child, the broker last so the worker can hand back its unfinished tasks."""
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    watched = [*processes, *([broker.process] if broker else [])]
    signal.signal(signal.SIGTERM, _stop)
    # Explicitly: a shell that starts `mpi up` in the background makes it ignore SIGINT, and
    # Ctrl-C (or a test's SIGINT) must still stop everything.
    signal.signal(signal.SIGINT, _stop)
    while not stopping and all(p.poll() is None for p in watched):
        time.sleep(0.2)
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            # The worker's soft shutdown lets a running task finish (up to 30 s).
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
    if broker is not None:
        broker.stop()
    failed = [p.args for p in processes if p.returncode not in (0, -signal.SIGTERM, None)]
    if failed and not stopping:
        raise typer.Exit(1)


@app.command()
def migrate(
    state_dir: Annotated[Path, typer.Option(help="Embedded servers' data")] = DEFAULT_STATE_DIR,
) -> None:
    """Apply the database migrations (Alembic) up to the newest."""
    _, url = _database_url(state_dir)
    upgrade(url)
    print("migrations current")


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Option(help="Who holds the key (an integration's name)")],
    scope: Annotated[list[Scope], typer.Option(help="Repeat for several scopes")],
    source: Annotated[
        list[str] | None,
        typer.Option(help="Sources a records:write key may write; repeat. Omit: all sources"),
    ] = None,
    state_dir: Annotated[Path, typer.Option(help="Embedded servers' data")] = DEFAULT_STATE_DIR,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from mpi_api.auth.service import create_key as store_key

    _, url = _database_url(state_dir)
    upgrade(url)
    engine = make_engine(url, pool_size=1)
    with unit_of_work(make_sessionmaker(engine)) as session:
        key_id, key = store_key(session, name=name, scopes=scope, allowed_sources=source)
    engine.dispose()
    print(f"key id {key_id} for {name!r}; store it now, it is not shown again:")
    print(key)


@app.command("bulk-load")
def bulk_load_command(
    data: Annotated[
        Path | None, typer.Argument(help="Dataset folder (records.parquet, events.parquet)")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="Linker model artifact; default: the shipped model")
    ] = None,
    relink: Annotated[
        bool,
        typer.Option(
            help="Re-decide the stored records under --model instead (mpi_ids kept; stop the"
            " api and worker first)"
        ),
    ] = False,
    state_dir: Annotated[Path, typer.Option(help="Embedded servers' data")] = DEFAULT_STATE_DIR,
) -> None:
    """Load and link a whole dataset into an empty MPI with Splink's batch predict, or
    (--relink) re-decide every stored record under a new linker model."""
    from mpi_api.bulk import bulk_load
    from mpi_api.bulk.ingest import InvalidRecord
    from mpi_api.bulk.relink import relink as relink_all
    from mpi_linker.model.artifact import load
    from mpi_store.datasets import iter_payloads
    from mpi_store.errors import Conflict

    if relink == (data is not None):
        raise typer.BadParameter("give a dataset folder, or --relink without one")
    _, url = _database_url(state_dir)
    upgrade(url)
    engine = make_engine(url, pool_size=1)
    started = time.perf_counter()
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            if data is None:
                relinked = relink_all(session, artifact=load(model))
            else:
                _, payloads = iter_payloads(data)
                report = bulk_load(session, payloads=payloads, artifact=load(model))
    except (InvalidRecord, Conflict) as e:
        typer.secho(
            f"Nothing was {'relinked' if relink else 'loaded'}: {e}", err=True, fg=typer.colors.RED
        )
        raise typer.Exit(2) from e
    finally:
        engine.dispose()
    elapsed = time.perf_counter() - started
    if data is None:
        print(
            f"{relinked.records} records relinked in {elapsed:.1f} s: {relinked.links_changed} "
            f"links changed; {relinked.patients} patients ({relinked.patients_kept} kept their "
            f"mpi_id, {relinked.patients_created} new, {relinked.patients_redirected} redirected);"
            f" {relinked.gray_pairs} gray pairs queued; decisions {relinked.match_results}"
        )
        return
    print(
        f"{report.records} records -> {report.golden_records} patients in {elapsed:.1f} s "
        f"({report.records / max(elapsed, 1e-9):.0f} records/s); {report.candidate_pairs} "
        f"pairs at or above the reject bound; decisions {report.match_results}"
    )


@app.command("export-clusters")
def export_clusters(
    out: Annotated[Path, typer.Argument(help="Parquet file: record -> mpi_id, link_source")],
    state_dir: Annotated[Path, typer.Option(help="Embedded servers' data")] = DEFAULT_STATE_DIR,
) -> None:
    """Write every record's current patient (the input of `mpi eval --pred`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mpi_store.repositories import LinkRepository

    _, url = _database_url(state_dir)
    engine = make_engine(url, pool_size=1)
    with make_sessionmaker(engine)() as session:
        rows = LinkRepository(session).clusters()
    engine.dispose()
    pq.write_table(pa.Table.from_pylist(rows), out)
    print(f"{len(rows)} records written to {out}")


def _load_plugins() -> None:
    for entry in entry_points(group="mpi.commands"):
        try:
            command = entry.load()
        except ImportError:
            continue  # the package's extra is not installed; its commands stay hidden
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=entry.name)
        else:
            app.command(entry.name)(command)


def main() -> None:
    _load_plugins()
    app()


if __name__ == "__main__":
    main()
