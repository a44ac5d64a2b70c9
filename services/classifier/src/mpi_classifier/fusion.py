"""Fusion of the classifier's probability with Splink's, in log-odds (DESIGN §4).

logit(p) = logit(p_splink) + w · (logit(p_classifier) - logit(π_train))

Splink's probability already holds the prior; the classifier contributes its likelihood ratio
(its log-odds with its own training prior removed), scaled by `w`. `w` and the accept threshold
are fitted on held-out gray pairs and travel with the classifier's model version.
"""

from __future__ import annotations

import math
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


# Weights tried when fitting the fusion (mpi_training.adjudication.closure).
WEIGHTS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(0, 31))
