"""Scores of a classifier's probabilities against labels: precision / recall / F1 at 0.5,
ROC-AUC, expected calibration error, and the reliability diagram that shows the calibration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score

from mpi_training.adjudication.metrics import quality

BINS = 10


def roc_auc(probabilities: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve; None when only one class is present (it is undefined)."""
    if len(set(labels)) < 2:
        return None
    return float(roc_auc_score([int(y) for y in labels], list(probabilities)))


def scores(probabilities: Sequence[float], labels: Sequence[bool]) -> dict[str, Any]:
    """Pairs, positives, precision, recall and F1 at 0.5, ECE (10 bins) and ROC-AUC."""
    auc = roc_auc(probabilities, labels)
    return quality(probabilities, labels).as_dict() | {
        "roc_auc": None if auc is None else round(auc, 4)
    }


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int
    confidence: float  # mean predicted probability
    accuracy: float  # share of true matches


def reliability(
    probabilities: Sequence[float], labels: Sequence[bool], *, bins: int = BINS
) -> list[Bin]:
    """The non-empty equal-width bins of the probabilities (the ECE's bins: [low, high), the
    last one closed)."""
    members: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for p, y in zip(probabilities, labels, strict=True):
        members[min(int(p * bins), bins - 1)].append((p, y))
    return [
        Bin(
            low=b / bins,
            high=(b + 1) / bins,
            count=len(items),
            confidence=sum(p for p, _ in items) / len(items),
            accuracy=sum(1 for _, y in items if y) / len(items),
        )
        for b, items in enumerate(members)
        if items
    ]


def plot_reliability(
    curves: Mapping[str, tuple[Sequence[float], Sequence[bool]]], out: Path, *, title: str
) -> None:
    """One reliability curve per name (observed match share against mean probability, per
    bin), the diagonal of perfect calibration, and the pairs per bin below."""
    figure = Figure(figsize=(6, 7), layout="constrained")
    curve_axes, count_axes = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    curve_axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    width = 1 / BINS / (len(curves) + 1)
    for index, (name, (probabilities, labels)) in enumerate(curves.items()):
        bins = reliability(probabilities, labels)
        curve_axes.plot(
            [b.confidence for b in bins], [b.accuracy for b in bins], marker="o", label=name
        )
        count_axes.bar(
            [b.low + (index + 0.5) * width for b in bins],
            [b.count for b in bins],
            width=width,
            align="edge",
            label=name,
        )
    curve_axes.set(title=title, ylabel="observed share of matches", xlim=(0, 1), ylim=(0, 1))
    curve_axes.legend(loc="upper left", fontsize="small")
    count_axes.set(xlabel="predicted probability of a match", ylabel="pairs", yscale="log")
    figure.savefig(out, dpi=100)
