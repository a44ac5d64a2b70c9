"""Training curves of a run as a PNG: the loss (training and validation) and validation F1 by
step, from its metrics log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

CURVES_FILE = "curves.png"


def plot_curves(rows: list[dict[str, Any]], out: Path, *, title: str) -> None:
    # A bare Figure renders with Agg and leaves pyplot's global state (and any GUI) alone.
    figure = Figure(figsize=(10, 4), layout="constrained")
    loss, f1 = figure.subplots(1, 2)
    _line(loss, rows, "loss", "training")
    _line(loss, rows, "eval_loss", "validation")
    loss.set(title="Loss", xlabel="step", ylabel="cross-entropy")
    loss.legend()
    _line(f1, rows, "eval_f1", "validation", marker="o")
    f1.set(title="Validation F1 (at 0.5)", xlabel="step", ylabel="F1", ylim=(0, 1))
    figure.suptitle(title)
    figure.savefig(out, dpi=100)


def _line(axes: Any, rows: list[dict[str, Any]], key: str, label: str, **style: Any) -> None:
    points = [(row["step"], row[key]) for row in rows if key in row]
    if points:
        steps, values = zip(*points, strict=True)
        axes.plot(steps, values, label=label, **style)
