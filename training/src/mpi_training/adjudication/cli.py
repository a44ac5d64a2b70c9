"""`mpi classifier ...`: fit the gray-zone classifiers shipped in `mpi_classifier/models`."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Gray-zone classifiers: fit and ship", no_args_is_help=True)

_MODELS = Path(str(resources.files("mpi_classifier.models")))


@app.command("fit-overlap")
def fit_overlap_command(
    train: Annotated[Path, typer.Option(help="Training population (records/events/truth)")],
    dev: Annotated[Path, typer.Option(help="Dev population for the fusion (never data/eval)")],
    out: Annotated[Path, typer.Option(help="Model JSON to write")] = _MODELS / "overlap.json",
) -> None:
    """Fit the overlap classifier on --train's gray pairs and its fusion on --dev's."""
    from mpi_linker.model.artifact import load
    from mpi_training.adjudication.overlap import fit_overlap

    fitted = fit_overlap(train, dev, load())
    out.write_text(fitted.model.to_json() + "\n")
    print(json.dumps(fitted.report | {"features": len(fitted.report["features"])}, indent=1))
    print(f"wrote {out} ({fitted.model.version})")


@app.command("train-minilm")
def train_minilm_command(
    train: Annotated[Path, typer.Option(help="Training population")],
    dev: Annotated[Path, typer.Option(help="Dev population for the fusion")],
    out: Annotated[Path, typer.Option(help="Adapter folder to write")] = _MODELS / "minilm",
    minutes: Annotated[float, typer.Option(help="Training time budget")] = 15.0,
    max_tokens: Annotated[int, typer.Option(help="Tokens per pair")] = 256,
    seed: Annotated[int, typer.Option(help="Seed")] = 13,
) -> None:
    """Fine-tune a LoRA adapter and head on MiniLM (CPU) and fit its fusion on --dev."""
    from mpi_linker.model.artifact import load
    from mpi_training.adjudication.minilm import train_minilm

    card = train_minilm(
        train, dev, load(), out=out, minutes=minutes, max_tokens=max_tokens, seed=seed
    )
    print(json.dumps(card, indent=1))
    print(f"wrote {out}")


@app.command("fit-minilm-fusion")
def fit_minilm_fusion_command(
    dev: Annotated[Path, typer.Option(help="Dev population for the fusion (never data/eval)")],
    adapter: Annotated[Path, typer.Option(help="Adapter folder")] = _MODELS / "minilm",
) -> None:
    """Refit the local classifier's fusion on --dev without retraining it."""
    from mpi_linker.model.artifact import load
    from mpi_training.adjudication.minilm import refit_fusion

    card = refit_fusion(adapter, dev, load())
    print(json.dumps({"fusion": card["fusion"], "dev": card["dev"]}, indent=1))
