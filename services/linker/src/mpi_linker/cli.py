"""`mpi linker ...`: train and check the Splink model, refit its thresholds, refresh TFs."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from mpi_linker.features import TF_COLUMNS
from mpi_linker.frames import frame, frame_of_features, read_records, record_key
from mpi_linker.model.artifact import ModelArtifact
from mpi_linker.model.chart import chart_path, write_match_weights_chart
from mpi_linker.model.check import check, levels
from mpi_linker.model.train import (
    labelled_pairs,
    predict_pairs,
    refit_thresholds,
    self_train,
)
from mpi_store.db import make_engine, make_sessionmaker, unit_of_work
from mpi_store.models import SourceRecord
from mpi_store.repositories import LinkerIndexRepository

app = typer.Typer(help="The Splink linker", no_args_is_help=True)
console = Console()


def _database_url() -> str:
    url = os.environ.get("MPI_DATABASE_URL")
    if not url:
        raise typer.BadParameter("set MPI_DATABASE_URL to the MPI's database")
    return url


def _stored_frame() -> pa.Table:
    """The stored records' features, keyed like dataset records (`source`, `source_record_id`)."""
    engine = make_engine(_database_url(), pool_size=1)
    with make_sessionmaker(engine)() as session:
        keys = {
            row.id: record_key(row.source, row.source_record_id)
            for row in session.execute(
                select(SourceRecord.id, SourceRecord.source, SourceRecord.source_record_id)
            )
        }
        rows = [(keys[i], f) for i, f in LinkerIndexRepository(session).all_features()]
    engine.dispose()
    return frame_of_features(rows)


def _records(data: Path | None, from_database: bool) -> tuple[pa.Table, str]:
    if from_database == (data is not None):
        raise typer.BadParameter("give exactly one of --data DIR and --from-database")
    if data is not None:
        if not (data / "records.parquet").exists():
            raise typer.BadParameter(f"{data} has no records.parquet", param_hint="--data")
        return frame(read_records(data)), data.name
    return _stored_frame(), "database"


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
        bool, typer.Option(help="Train on the records stored in MPI_DATABASE_URL")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of u sampling")] = 42,
) -> None:
    """Train unsupervised (no truth) on a dataset or on the MPI's own stored records.

    Degenerate levels are repaired (each reason is printed); thresholds are the defaults,
    read off the model's own probabilities (refit them with `mpi linker thresholds`).
    """
    records, name = _records(data, from_database)
    if records.num_rows < 2:
        raise typer.BadParameter("need at least two records to train on")
    manifest = data / "manifest.json" if data is not None else None
    with console.status(f"training on {records.num_rows} records"):
        artifact = self_train(
            records,
            seed=seed,
            card={
                "training_data": {
                    "source": name,
                    "manifest": json.loads(manifest.read_text()).get("parameters")
                    if manifest is not None and manifest.exists()
                    else None,
                },
            },
        )
    for line in artifact.card["em_sessions_skipped"]:
        console.print(f"[yellow]EM session skipped[/]: {line}")
    for line in artifact.card["repairs"]:
        console.print(f"[yellow]repaired[/]: {line}")
    _print_levels(artifact)
    _write(artifact, out)


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
        bool, typer.Option(help="The labels are about records stored in MPI_DATABASE_URL")
    ] = False,
) -> None:
    """Refit auto, reject and accept-alone bounds from labelled pairs (a steward's decisions,
    a clerical sample); the Splink model itself is unchanged."""
    artifact = _load(model)
    records, _ = _records(data, from_database)
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


@app.command("refresh-tf")
def refresh_term_frequencies() -> None:
    """Recompute the term-frequency table in Postgres from the indexed records."""
    engine = make_engine(_database_url(), pool_size=1)
    with unit_of_work(make_sessionmaker(engine)) as session:
        rows = LinkerIndexRepository(session).refresh_term_frequencies(TF_COLUMNS)
    engine.dispose()
    print(f"{rows} term frequencies for {', '.join(TF_COLUMNS)}")
