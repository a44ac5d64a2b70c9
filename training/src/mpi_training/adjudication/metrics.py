"""Precision, recall and calibration of gray-pair decisions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Quality:
    pairs: int
    positives: int
    precision: float
    recall: float
    f1: float
    ece: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def quality(
    probabilities: Sequence[float], labels: Sequence[bool], *, threshold: float = 0.5
) -> Quality:
    """P/R/F1 of `probability >= threshold`, and the expected calibration error (10 bins)."""
    predicted = [p >= threshold for p in probabilities]
    tp = sum(1 for p, y in zip(predicted, labels, strict=True) if p and y)
    positives_predicted = sum(predicted)
    positives = sum(labels)
    precision = tp / positives_predicted if positives_predicted else 0.0
    recall = tp / positives if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Quality(len(labels), positives, precision, recall, f1, ece(probabilities, labels))


def ece(probabilities: Sequence[float], labels: Sequence[bool], *, bins: int = 10) -> float:
    total = len(labels)
    if not total:
        return 0.0
    error = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [
            (p, y)
            for p, y in zip(probabilities, labels, strict=True)
            if low <= p < high or (b == bins - 1 and p == 1.0)
        ]
        if members:
            confidence = sum(p for p, _ in members) / len(members)
            accuracy = sum(1 for _, y in members if y) / len(members)
            error += len(members) / total * abs(confidence - accuracy)
    return error
