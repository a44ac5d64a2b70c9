"""Fusion of the classifier's probability with Splink's, in log-odds (DESIGN §4).

logit(p) = logit(p_splink) + w · (logit(p_classifier) - logit(π_train))

Splink's probability already holds the prior; the classifier contributes its likelihood ratio
(its log-odds with its own training prior removed), scaled by `w`. `w` and the accept threshold
are fitted on held-out gray pairs and travel with the classifier's model version.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

# Probabilities are clamped: a classifier's 1.0 must not become an infinite vote.
_EPSILON = 1e-6


def logit(p: float) -> float:
    p = min(max(p, _EPSILON), 1 - _EPSILON)
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    z = math.exp(x)
    return z / (1 + z)


@dataclass(frozen=True)
class Fusion:
    weight: float
    threshold: float
    training_prior: float

    def fuse(self, p_splink: float, p_classifier: float) -> float:
        evidence = logit(p_classifier) - logit(self.training_prior)
        return sigmoid(logit(p_splink) + self.weight * evidence)

    def accept(self, fused: float) -> bool:
        return fused >= self.threshold

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fusion:
        return cls(
            weight=float(data["weight"]),
            threshold=float(data["threshold"]),
            training_prior=float(data["training_prior"]),
        )


@dataclass(frozen=True)
class FusionFit:
    fusion: Fusion
    precision: float
    recall: float
    f1: float
    pairs: int
    positives: int


WEIGHTS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(0, 31))


def fit(
    pairs: Sequence[tuple[float, float, bool]],
    *,
    training_prior: float,
    weights: Sequence[float] = WEIGHTS,
) -> FusionFit:
    """Best F1 over (w, threshold) on held-out gray pairs `(p_splink, p_classifier, is_match)`.

    Ties go to the higher threshold (fewer merges to undo), then the smaller weight.
    """
    positives = sum(1 for *_, label in pairs if label)
    best: FusionFit | None = None
    for weight in weights:
        candidate = Fusion(weight=weight, threshold=0.5, training_prior=training_prior)
        scored = sorted(
            ((candidate.fuse(s, c), label) for s, c, label in pairs), key=lambda x: -x[0]
        )
        true_positives = 0
        for rank, (fused, label) in enumerate(scored, start=1):
            true_positives += label
            if rank < len(scored) and scored[rank][0] == fused:
                continue  # a threshold cannot split tied scores
            precision = true_positives / rank
            recall = true_positives / max(positives, 1)
            f1 = 2 * precision * recall / max(precision + recall, 1e-12)
            better = best is None or (f1, fused, -weight) > (
                best.f1,
                best.fusion.threshold,
                -best.fusion.weight,
            )
            if better:
                best = FusionFit(
                    fusion=Fusion(weight=weight, threshold=fused, training_prior=training_prior),
                    precision=precision,
                    recall=recall,
                    f1=f1,
                    pairs=len(pairs),
                    positives=positives,
                )
    if best is None:
        raise ValueError("no gray pairs to fit the fusion on")
    return best
