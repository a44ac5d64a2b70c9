"""`mpi linker ...`: train and check the Splink model, refit its thresholds, refresh TFs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from mpi_linker import term_frequencies
from mpi_linker.features import TF_COLUMNS
from mpi_linker.frames import frame, frame_of_features, read_events, read_records, record_key
from mpi_linker.history_keys import (
    RARITY_RESOURCE,
    HistoryParameters,
    Rarity,
    is_history_key,
)
from mpi_linker.model.artifact import ModelArtifact, load
from mpi_linker.model.chart import chart_path, write_match_weights_chart
from mpi_linker.model.check import check, levels
from mpi_linker.model.train import (
    labelled_pairs,
    predict_pairs,
    refit_thresholds,
    self_train,
)
from mpi_store.db import make_engine, make_sessionmaker, unit_of_work
from mpi_store.embedded import DEFAULT_STATE_DIR, resolve_database
from mpi_store.models import SourceRecord
from mpi_store.repositories import LinkerIndexRepository

app = typer.Typer(help="The Splink linker", no_args_is_help=True)
# data/eval's seed: the evaluation set is never fitted on.
EVALUATION_SEED = 67890
console = Console()


def _stored_frame(state_dir: Path) -> pa.Table:
    """The stored records' features, keyed like dataset records (`source`, `source_record_id`)."""
    database = resolve_database(state_dir, create=False)
    console.print(f"database: {database.where}")
    engine = make_engine(database.url, pool_size=1)
    with make_sessionmaker(engine)() as session:
        keys = {
            row.id: record_key(row.source, row.source_record_id)
            for row in session.execute(
                select(SourceRecord.id, SourceRecord.source, SourceRecord.source_record_id)
            )
        }
        rows: list[tuple[str, dict[str, Any]]] = []
        stored_history: dict[str, list[str]] = {}
        for i, f, indexed in LinkerIndexRepository(session).all_indexed():
            rows.append((keys[i], f))
            # Features cannot give the history keys: they are the stored ones.
            stored_history[keys[i]] = [k for k in indexed if is_history_key(k)]
    engine.dispose()
    return frame_of_features(rows, stored_history)


def _records(
    data: Path | None, from_database: bool, state_dir: Path = DEFAULT_STATE_DIR
) -> tuple[pa.Table, str]:
    if from_database == (data is not None):
        raise typer.BadParameter("give exactly one of --data DIR and --from-database")
    if data is not None:
        if not (data / "records.parquet").exists():
            raise typer.BadParameter(f"{data} has no records.parquet", param_hint="--data")
        return frame(read_records(data), read_events(data)), data.name
    return _stored_frame(state_dir), "database"


def _load(model: Path) -> ModelArtifact:
    try:
        return ModelArtifact.from_json(model.read_text())
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise typer.BadParameter(f"not a model artifact: {type(error).__name__}") from error


def _write(artifact: ModelArtifact, out: Path) -> None:
    out.write_text(artifact.to_json() + "\n")
    chart = write_match_weights_chart(artifact.splink, chart_path(out))
    console.print(f"wrote {out} ({artifact.version}) and its chart {chart}")


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="Where to write the model artifact JSON")],
    data: Annotated[
        Path | None, typer.Option(help="A dataset folder to train on (records.parquet)")
    ] = None,
    from_database: Annotated[
        bool,
        typer.Option(help="Train on the stored records (MPI_DATABASE_URL, else `mpi up`'s)"),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of u sampling")] = 42,
    state_dir: Annotated[Path, typer.Option(help="Embedded servers' data")] = DEFAULT_STATE_DIR,
) -> None:
    """Train unsupervised (no truth) on a dataset or on the MPI's own stored records.

    Degenerate levels are repaired (each reason is printed); thresholds are the defaults,
    read off the model's own probabilities (refit them with `mpi linker thresholds`).
    """
    records, name = _records(data, from_database, state_dir)
    if records.num_rows < 2:
        raise typer.BadParameter("need at least two records to train on")
    manifest = data / "manifest.json" if data is not None else None
    with console.status(f"training on {records.num_rows} records"):
        artifact = self_train(
            records,
            seed=seed,
            card={
                "training_data": {"source": name, "manifest": _generated_by(manifest)},
            },
        )
    for line in artifact.card["em_sessions_skipped"]:
        console.print(f"[yellow]EM session skipped[/]: {line}")
    for line in artifact.card["repairs"]:
        console.print(f"[yellow]repaired[/]: {line}")
    _print_levels(artifact)
    _write(artifact, out)


def _generated_by(manifest: Path | None) -> Any:
    """What made the dataset: its generator's parameters, or the datasets a mix drew on."""
    if manifest is None or not manifest.exists():
        return None
    found = json.loads(manifest.read_text())
    return found.get("parameters") or found.get("mixed")


@app.command("check")
def check_command(
    model: Annotated[Path, typer.Argument(help="A model artifact JSON")],
) -> None:
    """Print every level's m, u and weight; exit 1 if any level breaks a rule."""
    artifact = _load(model)
    _print_levels(artifact)
    violations = check(artifact.splink)
    for violation in violations:
        console.print(f"[red]violation[/]: {violation}")
    if violations:
        raise typer.Exit(1)
    console.print(f"[green]{artifact.version}: every level trained, floored and ordered[/]")


@app.command()
def thresholds(
    model: Annotated[Path, typer.Argument(help="The model artifact whose thresholds to refit")],
    labels: Annotated[
        Path,
        typer.Option(
            help="Labelled pairs (parquet or CSV: source_l, source_record_id_l, source_r, "
            "source_record_id_r, label) or a truth file (source, source_record_id, patient_id)"
        ),
    ],
    out: Annotated[Path, typer.Option(help="Where to write the refitted artifact")],
    data: Annotated[Path | None, typer.Option(help="The dataset the labels are about")] = None,
    from_database: Annotated[
        bool, typer.Option(help="The labels are about the stored records")
    ] = False,
    state_dir: Annotated[Path, typer.Option(help="Embedded servers' data")] = DEFAULT_STATE_DIR,
) -> None:
    """Refit auto, reject and accept-alone bounds from labelled pairs (a steward's decisions,
    a clerical sample); the Splink model itself is unchanged."""
    artifact = _load(model)
    records, _ = _records(data, from_database, state_dir)
    pair_labels = _read_labels(labels)
    rows = {row["unique_id"]: row for row in records.to_pylist()}
    scored = labelled_pairs(predict_pairs(records, artifact.splink), pair_labels, rows)
    if not any(p.is_match for p in scored):
        raise typer.BadParameter(
            "no labelled match among the candidate pairs", param_hint="--labels"
        )
    report = refit_thresholds(scored)
    refitted = ModelArtifact(
        version=artifact.version,
        splink=artifact.splink,
        thresholds=report.thresholds,
        card={**artifact.card, "thresholds_from": {"labels": labels.name, **report.as_card()}},
    )
    _write(refitted, out)
    table = Table(title=f"{artifact.version}: thresholds from {report.labelled_pairs} pairs")
    for column in ("auto ≥", "reject <", "accept alone ≥", "auto precision", "auto recall"):
        table.add_column(column)
    bounds = report.thresholds
    table.add_row(
        f"{bounds.auto:.4f}",
        f"{bounds.reject:.2e}",
        f"{bounds.accept_alone:.4f}",
        f"{report.auto_precision:.4f}",
        f"{report.auto_recall:.4f}",
    )
    console.print(table)


def _read_labels(path: Path) -> Callable[[str, str], bool | None]:
    """The label of a pair of record keys (None: not labelled), from pair labels or a truth file
    (then every pair of its records is labelled: same patient or not)."""
    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist", param_hint="--labels")
    table = pq.read_table(path) if path.suffix == ".parquet" else _read_csv(path)
    columns = set(table.column_names)
    if {"source", "source_record_id", "patient_id"} <= columns:
        truth = {
            record_key(r["source"], r["source_record_id"]): r["patient_id"]
            for r in table.to_pylist()
        }
        return lambda a, b: truth[a] == truth[b] if a in truth and b in truth else None
    wanted = {"source_l", "source_record_id_l", "source_r", "source_record_id_r", "label"}
    if not wanted <= columns:
        raise typer.BadParameter(
            f"needs the columns {', '.join(sorted(wanted))}", param_hint="--labels"
        )
    found: dict[tuple[str, str], bool] = {}
    for row in table.to_pylist():
        left = record_key(row["source_l"], row["source_record_id_l"])
        right = record_key(row["source_r"], row["source_record_id_r"])
        label = str(row["label"]).strip().casefold() in ("1", "true", "match", "same")
        found[(left, right)] = found[(right, left)] = label
    return lambda a, b: found.get((a, b))


def _read_csv(path: Path) -> pa.Table:
    import pyarrow.csv as pcsv

    return pcsv.read_csv(path)


def _print_levels(artifact: ModelArtifact) -> None:
    table = Table(title=f"{artifact.version}: levels")
    for column in ("comparison", "level", "m", "u", "match weight"):
        table.add_column(column)
    for level in levels(artifact.splink):
        weight = level.weight
        table.add_row(
            level.comparison,
            level.label,
            "-" if level.m is None else f"{level.m:.3g}",
            "-" if level.u is None else f"{level.u:.3g}",
            "untrained" if weight is None else f"{weight:+.2f}",
        )
    console.print(table)


_HISTORY = HistoryParameters()


@app.command("fit-history")
def fit_history(
    data: Annotated[
        Path, typer.Option(help="A TRAINING dataset folder (events.parquet), never data/eval")
    ],
    out: Annotated[Path, typer.Option(help="Where to write the rarity table")] = Path(
        __file__
    ).parent
    / RARITY_RESOURCE,
    scheme: Annotated[str, typer.Option(help="pairs (rare-code pairs) or minhash (LSH)")] = (
        _HISTORY.scheme
    ),
    max_share: Annotated[
        float, typer.Option(help="A concept is rare if at most this share of records hold it")
    ] = _HISTORY.max_share,
    max_pair_share: Annotated[
        float, typer.Option(help="pairs: the most two concepts' shares may multiply to")
    ] = _HISTORY.max_pair_share,
    max_keys: Annotated[int, typer.Option(help="pairs: keys per record at most")] = (
        _HISTORY.max_keys
    ),
    bands: Annotated[int, typer.Option(help="minhash: LSH bands (keys per record)")] = (
        _HISTORY.bands
    ),
    rows: Annotated[int, typer.Option(help="minhash: MinHash values per band")] = _HISTORY.rows,
    min_concepts: Annotated[
        int, typer.Option(help="Rare concepts a record needs to get history keys")
    ] = _HISTORY.min_concepts,
) -> None:
    """Fit the history keys' rarity table (concept document frequencies) on a training
    population; by default it replaces the one shipped with the package (the api, the linker
    and batch prediction all read that one)."""
    if scheme not in ("pairs", "minhash"):
        raise typer.BadParameter("choose pairs or minhash", param_hint="--scheme")
    events = read_events(data)
    if not events:
        raise typer.BadParameter(f"{data} has no clinical events", param_hint="--data")
    manifest = data / "manifest.json"
    described = json.loads(manifest.read_text()) if manifest.exists() else {}
    if described.get("seed") == EVALUATION_SEED:
        raise typer.BadParameter(
            f"{data} is the evaluation set (seed {EVALUATION_SEED}): never fit on it",
            param_hint="--data",
        )
    histories = [
        events.get(record_key(r["source"], r["source_record_id"]), []) for r in read_records(data)
    ]
    parameters = HistoryParameters(
        scheme, max_share, max_pair_share, max_keys, bands, rows, min_concepts
    )
    rarity = Rarity.fit(
        histories,
        parameters=parameters,
        fitted_on={"source": data.name, "command": described.get("command")},
    )
    out.write_text(rarity.to_json() + "\n")
    common = sum(1 for c in rarity.document_frequency if not rarity.is_rare(c))
    console.print(
        f"wrote {out}: {rarity.records} records, {len(rarity.document_frequency)} concepts, "
        f"{common} of them common (held by more than {max_share:.0%} of records)"
    )


@app.command("refresh-tf")
def refresh_term_frequencies(
    state_dir: Annotated[Path, typer.Option(help="Embedded servers' data")] = DEFAULT_STATE_DIR,
    model: Annotated[
        Path | None,
        typer.Option(help="The model the linker serves (its u is the prior); default: shipped"),
    ] = None,
) -> None:
    """Recompute the term-frequency table in Postgres (the database `mpi up` uses) from the
    indexed records now (the linker also does it as the index grows)."""
    database = resolve_database(state_dir, create=False)
    print(f"database: {database.where}")
    url = database.url
    engine = make_engine(url, pool_size=1)
    with unit_of_work(make_sessionmaker(engine)) as session:
        rows = term_frequencies.refresh(session, load(model))
    engine.dispose()
    print(f"{rows} term frequencies for {', '.join(TF_COLUMNS)}")
