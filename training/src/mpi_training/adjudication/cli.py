"""`mpi classifier ...`: fit the gray-zone classifiers shipped in `mpi_classifier/models`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Gray-zone classifiers: fit and ship", no_args_is_help=True)


@app.command("fit-overlap")
def fit_overlap_command(
    train: Annotated[Path, typer.Option(help="Training population (records/events/truth)")],
    dev: Annotated[Path, typer.Option(help="Dev population for the fusion (never data/eval)")],
    # No default: the shipped model (in mpi_classifier/models) is replaced only on purpose.
    out: Annotated[Path, typer.Option(help="Model JSON to write")],
) -> None:
    """Fit the overlap classifier on --train's gray pairs and its fusion on --dev's."""
    from mpi_linker.model.artifact import load
    from mpi_training.adjudication.overlap import fit_overlap

    fitted = fit_overlap(train, dev, load())
    out.write_text(fitted.model.to_json() + "\n")
    print(json.dumps(fitted.report | {"features": len(fitted.report["features"])}, indent=1))
    print(f"wrote {out} ({fitted.model.version})")
