"""The `mpi` command: keys, migrations, bulk load and exports.

Other packages add commands through the `mpi.commands` entry-point group (`mpi up` and `mpi
drill` come from the developer tools, `mpi_devtools`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points, requires
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from mpi_store.db import make_engine, make_sessionmaker, unit_of_work
from mpi_store.domain.enums import Scope
from mpi_store.domain.errors import ConfigurationError, InvalidInput
from mpi_store.embedded import DEFAULT_STATE_DIR, resolve_database
from mpi_store.migrate import upgrade

app = typer.Typer(help="Master Patient Index", no_args_is_help=True)
keys_app = typer.Typer(help="API keys", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@app.command()
def migrate(
    state_dir: Annotated[Path, typer.Option(help="Embedded servers' data")] = DEFAULT_STATE_DIR,
) -> None:
    """Apply the database migrations (Alembic) up to the newest."""
    database = resolve_database(state_dir, create=True)
    upgrade(database.url)
    print(f"migrations current in {database.where}")


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Option(help="Who holds the key (an integration's name)")],
    scope: Annotated[list[Scope], typer.Option(help="Repeat for several scopes")],
    source: Annotated[
        list[str] | None,
        typer.Option(help="Sources a records:write key may write; repeat. Omit: all sources"),
    ] = None,
    lenient: Annotated[
        bool,
        typer.Option(
            help="Store a record whose optional fields are invalid with those fields dropped "
            "(201 with `warnings`) instead of refusing it whole"
        ),
    ] = False,
    state_dir: Annotated[Path, typer.Option(help="Embedded servers' data")] = DEFAULT_STATE_DIR,
) -> None:
    """Create an API key in the database `mpi up` uses and print it once (only its hash is
    stored)."""
    from mpi_api.auth.service import create_key as store_key

    with _keys_session(state_dir) as session:
        key_id, key = store_key(
            session, name=name, scopes=scope, allowed_sources=source, lenient=lenient
        )
    print(f"key id {key_id} for {name!r}; store it now, it is not shown again:")
    print(key)


@keys_app.command("list")
def list_keys(
    state_dir: Annotated[Path, typer.Option(help="Embedded servers' data")] = DEFAULT_STATE_DIR,
) -> None:
    """Every key: id, name, scopes, sources, intake (strict or lenient), created and revoked
    (never the key or its hash)."""
    from mpi_store.repositories import ApiKeyRepository

    with _keys_session(state_dir) as session:
        for key in ApiKeyRepository(session).all():
            sources = ",".join(key.allowed_sources) if key.allowed_sources is not None else "*"
            revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            intake = "lenient" if key.lenient else "strict"
            print(
                f"{key.id}\t{key.name}\t{','.join(key.scopes)}\t{sources}\t{intake}\t"
                f"created {key.created_at:%Y-%m-%d %H:%M}\t{revoked}"
            )


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[int, typer.Argument(help="The id `mpi keys create` printed")],
    state_dir: Annotated[Path, typer.Option(help="Embedded servers' data")] = DEFAULT_STATE_DIR,
) -> None:
    """Revoke a key: the api answers 401 to it from now on."""
    from mpi_store.repositories import ApiKeyRepository

    with _keys_session(state_dir) as session:
        if not ApiKeyRepository(session).revoke(key_id):
            raise InvalidInput(f"no active key with id {key_id}")
    print(f"key {key_id} revoked")


@contextmanager
def _keys_session(state_dir: Path) -> Iterator[Session]:
    """A unit of work on the database `mpi up` uses; it says which (stderr)."""
    database = resolve_database(state_dir, create=False)
    typer.echo(f"database: {database.where}", err=True)
    upgrade(database.url)
    engine = make_engine(database.url, pool_size=1)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()


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
    from mpi_api.bulk.progress import Bars
    from mpi_api.bulk.relink import relink as relink_all
    from mpi_api.bulk.summary import load_summary, relink_summary
    from mpi_linker.model.artifact import load
    from mpi_store.datasets import iter_payloads
    from mpi_store.domain.errors import Conflict, InvalidRecord

    if relink == (data is not None):
        raise typer.BadParameter("give a dataset folder, or --relink without one")
    url = resolve_database(state_dir, create=not relink).url
    upgrade(url)
    engine = make_engine(url, pool_size=1)
    started = time.perf_counter()
    try:
        with unit_of_work(make_sessionmaker(engine)) as session, Bars() as bars:
            if data is None:
                relinked = relink_all(session, artifact=load(model), progress=bars)
            else:
                total, payloads = iter_payloads(data)
                report = bulk_load(
                    session, payloads=payloads, artifact=load(model), total=total, progress=bars
                )
    except (InvalidRecord, Conflict) as e:
        typer.secho(
            f"Nothing was {'relinked' if relink else 'loaded'}: {e}", err=True, fg=typer.colors.RED
        )
        raise typer.Exit(2) from e
    finally:
        engine.dispose()
    elapsed = time.perf_counter() - started
    if data is None:
        relink_summary(relinked, elapsed)
    else:
        load_summary(report, elapsed)


@app.command("export-clusters")
def export_clusters(
    out: Annotated[Path, typer.Argument(help="Parquet file: record -> mpi_id, link_source")],
    state_dir: Annotated[Path, typer.Option(help="Embedded servers' data")] = DEFAULT_STATE_DIR,
) -> None:
    """Write every record's current patient (the input of `mpi eval --pred`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mpi_store.repositories import LinkRepository

    engine = make_engine(resolve_database(state_dir, create=False).url, pool_size=1)
    with make_sessionmaker(engine)() as session:
        rows = LinkRepository(session).clusters()
    engine.dispose()
    pq.write_table(pa.Table.from_pylist(rows), out)
    print(f"{len(rows)} records written to {out}")


@app.command("export-decisions")
def export_decisions(
    out: Annotated[
        Path, typer.Option(help="Parquet file: one labelled record pair per row (README)")
    ],
    state_dir: Annotated[Path, typer.Option(help="Embedded servers' data")] = DEFAULT_STATE_DIR,
) -> None:
    """Write every MANUAL decision as labelled record pairs (1 MATCH, 0 NO_MATCH) with the
    scores the pair had: the input of threshold and fusion refits."""
    from mpi_api.links.decision_pairs import decision_pairs, write_parquet

    if not out.parent.is_dir():
        raise typer.BadParameter(f"no folder {out.parent}", param_hint="--out")
    engine = make_engine(resolve_database(state_dir, create=False).url, pool_size=1)
    try:
        with make_sessionmaker(engine)() as session:
            written = write_parquet(decision_pairs(session), out)
    finally:
        engine.dispose()
    print(f"{written} labelled pairs written to {out}")


def _load_plugins() -> None:
    """Each `mpi.commands` entry point's commands. One whose package needs a dependency that
    is not installed (its extra left out, as in the api image) becomes a command saying so;
    any other import error is a bug, and raised."""
    for entry in entry_points(group="mpi.commands"):
        try:
            command = entry.load()
        except ModuleNotFoundError as error:
            missing = (error.name or "").split(".")[0]
            if not missing or missing.startswith("mpi_"):
                raise
            app.command(
                entry.name,
                help=f"Not installed here: needs {missing} ({_extra_of(missing)}).",
                context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
            )(_not_installed(entry.name, missing))
            continue
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=entry.name)
        else:
            app.command(entry.name)(command)


def _extra_of(package: str) -> str:
    """The extra of this project that brings `package`, as an install hint."""
    for requirement in requires("mpi") or []:
        name = re.split(r"[\s=<>!~;\[]", requirement, maxsplit=1)[0]
        extra = re.search(r"extra == ['\"]([\w-]+)['\"]", requirement)
        if extra and name.lower().replace("-", "_") == package.lower():
            return f"pip install -c constraints.txt '.[{extra.group(1)}]'"
    return "install the project with the extra that provides it"


def _not_installed(name: str, missing: str) -> Callable[[], None]:
    def command() -> None:
        typer.secho(
            f"mpi {name} needs {missing}, which is not installed here: {_extra_of(missing)}",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(2)

    return command


def main() -> None:
    _load_plugins()
    try:
        app()
    except (ConfigurationError, InvalidInput) as error:
        # The user's to fix: one line naming it, no traceback.
        typer.secho(str(error), err=True, fg=typer.colors.RED)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
