"""`mpi linker ...`: train the Splink model, refresh term frequencies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mpi_linker.features import TF_COLUMNS
from mpi_linker.frames import frame, read_records, read_truth
from mpi_linker.model.train import build_artifact, choose_thresholds, predict_pairs, train_splink
from mpi_store.db import make_engine, make_sessionmaker, unit_of_work
from mpi_store.embedded import DEFAULT_STATE_DIR, resolve_database
from mpi_store.repositories import LinkerIndexRepository

app = typer.Typer(help="The Splink linker", no_args_is_help=True)


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Population to train on (records.parquet)")],
    out: Annotated[Path, typer.Option(help="Where to write the model artifact JSON")],
    dev: Annotated[
        Path | None,
        typer.Option(help="Dev set with truth.parquet for the thresholds (default: --data)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of u sampling")] = 42,
) -> None:
    """Train unsupervised on --data; choose thresholds on --dev (never the test set)."""
    console = Console()
    train_frame = frame(read_records(data))
    with console.status(f"training on {train_frame.num_rows} records"):
        model, skipped = train_splink(train_frame, seed=seed)
    dev = dev or data
    dev_frame = frame(read_records(dev))
    with console.status(f"choosing thresholds on {dev_frame.num_rows} dev records"):
        rows = {row["unique_id"]: row for row in dev_frame.to_pylist()}
        report = choose_thresholds(predict_pairs(dev_frame, model), read_truth(dev), rows)
    manifest = (
        json.loads((data / "manifest.json").read_text())
        if (data / "manifest.json").exists()
        else {}
    )
    artifact = build_artifact(
        model,
        report,
        card={
            "training_data": {
                "path": data.name,
                "records": train_frame.num_rows,
                "manifest": manifest.get("parameters", manifest.get("seed")),
            },
            "dev_data": {"path": dev.name, "records": dev_frame.num_rows},
            "method": "Splink 5 on DuckDB: prior from deterministic rules, u by random "
            "sampling, EM sessions on birth_date / names' phonetic codes / ssn / address",
            "seed": seed,
            "em_sessions_skipped": skipped,
        },
    )
    out.write_text(artifact.to_json() + "\n")
    table = Table(title=f"{artifact.version} — dev set")
    for column in (
        "auto ≥",
        "reject <",
        "auto precision",
        "auto recall",
        "true below reject",
        "pairs",
        "auto/gray/reject share",
    ):
        table.add_column(column)
    shares = report.tier_shares
    table.add_row(
        f"{report.thresholds.auto:.4f}",
        f"{report.thresholds.reject:.2e}",
        f"{report.auto_precision:.4f}",
        f"{report.auto_recall:.4f}",
        f"{report.missed_below_reject:.4f}",
        str(report.candidate_pairs),
        f"{shares['auto']:.3f} / {shares['gray']:.3f} / {shares['reject']:.3f}",
    )
    console.print(table)


@app.command("refresh-tf")
def refresh_term_frequencies(
    state_dir: Annotated[Path, typer.Option(help="Embedded servers' data")] = DEFAULT_STATE_DIR,
) -> None:
    """Recompute the term-frequency table in Postgres (the database `mpi up` uses) from the
    indexed records."""
    database = resolve_database(state_dir, create=False)
    print(f"database: {database.where}")
    url = database.url
    engine = make_engine(url, pool_size=1)
    with unit_of_work(make_sessionmaker(engine)) as session:
        rows = LinkerIndexRepository(session).refresh_term_frequencies(TF_COLUMNS)
    engine.dispose()
    print(f"{rows} term frequencies for {', '.join(TF_COLUMNS)}")
