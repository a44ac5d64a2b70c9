"""Severity settings for demographic corruption, with the ClinFuse presets."""

from __future__ import annotations

import dataclasses
from typing import Any

from mpi_training.corruption.errors import CATEGORIES

# ClinFuse params.yaml error_weights, plus phone (ClinFuse's patients had none) at 0.05.
INFERENCE_WEIGHTS = {
    "name": 0.35, "address": 0.05, "date": 0.15, "ssn": 0.15, "phone": 0.05, "missing": 0.30,
}  # fmt: skip
TRAINING_WEIGHTS = {
    "name": 0.30, "address": 0.20, "date": 0.15, "ssn": 0.05, "phone": 0.05, "missing": 0.30,
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class CorruptionConfig:
    """How hard each facility record is hit.

    With probability `multi_error_probability` a record gets U{min_errors..max_errors} errors,
    otherwise exactly one (ClinFuse's control flow). Unlike ClinFuse the count is of errors
    that changed something: attempts that would be no-ops are redrawn.
    """

    min_errors: int = 3
    max_errors: int = 5
    multi_error_probability: float = 0.7
    category_weights: dict[str, float] = dataclasses.field(
        default_factory=lambda: dict(TRAINING_WEIGHTS)
    )

    def __post_init__(self) -> None:
        if not 0 <= self.min_errors <= self.max_errors:
            raise ValueError("need 0 <= min_errors <= max_errors")
        if not 0.0 <= self.multi_error_probability <= 1.0:
            raise ValueError("multi_error_probability is a probability")
        unknown = set(self.category_weights) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown error categories: {sorted(unknown)}")
        if sum(self.category_weights.values()) <= 0:
            raise ValueError("category weights must not all be zero")

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, CorruptionConfig] = {
    "clinfuse-inference": CorruptionConfig(8, 12, 0.7, dict(INFERENCE_WEIGHTS)),
    "clinfuse-training": CorruptionConfig(3, 5, 0.7, dict(TRAINING_WEIGHTS)),
}
