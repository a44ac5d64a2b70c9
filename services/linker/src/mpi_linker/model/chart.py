"""Splink's match-weights chart of a model, saved as a PNG beside its artifact."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from splink import DuckDBAPI, Linker

from mpi_linker.frames import SCHEMA


def chart_path(model_path: Path) -> Path:
    return model_path.with_suffix(".match_weights.png")


def write_match_weights_chart(splink_model: dict[str, Any], out: Path) -> Path:
    """Render Splink's own chart (Altair, through vl-convert: no browser, no network)."""
    linker = Linker(DuckDBAPI().register(SCHEMA.empty_table()), dict(splink_model))
    with warnings.catch_warnings():
        # Altair 6 notes that Splink's chart declares one selection twice; it renders the same.
        warnings.filterwarnings("ignore", "Automatically deduplicated selection", UserWarning)
        chart = linker.visualisations.match_weights_chart()
        chart.save(str(out), format="png", scale_factor=1.5)  # type: ignore[no-untyped-call]
    return out
