"""Severity settings for demographic corruption, and the named presets."""

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
# `standard`: everyday registration noise. Fewer deliberate blanks than ClinFuse (facilities
# that never collect a field already leave real nulls) and more weight on names and contact
# details, the fields clerks retype.
STANDARD_WEIGHTS = {
    "name": 0.35, "address": 0.15, "date": 0.15, "ssn": 0.10, "phone": 0.10, "missing": 0.15,
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class CorruptionConfig:
    """How hard each facility record is hit.

    With probability `multi_error_probability` a record gets U{min_errors..max_errors} errors,
    otherwise exactly one (ClinFuse's control flow). With `redraw_no_ops` (the default) the
    count is of errors that changed something: attempts that would be no-ops are redrawn.
    Without it the count is of attempts, as in ClinFuse's code: an attempt that finds nothing
    to change (no nickname known, no unit to reformat, a field already blank) is simply lost,
    so records get fewer effective errors than drawn.
    """

    min_errors: int = 3
    max_errors: int = 5
    multi_error_probability: float = 0.7
    category_weights: dict[str, float] = dataclasses.field(
        default_factory=lambda: dict(TRAINING_WEIGHTS)
    )
    redraw_no_ops: bool = True

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


ADVERSARIAL = CorruptionConfig(8, 12, 0.7, dict(INFERENCE_WEIGHTS))

PRESETS: dict[str, CorruptionConfig] = {
    # What ClinFuse's inference run really does: 30% of records one attempt, 70% 8-12
    # attempts; no-ops are not redrawn and later attempts may overwrite earlier ones.
    "clinfuse-effective": dataclasses.replace(ADVERSARIAL, redraw_no_ops=False),
    # About 1.5 effective errors per record: 75% of records one, 25% U{2..4} (mean 3), so
    # 0.75 x 1 + 0.25 x 3 = 1.5.
    "standard": CorruptionConfig(2, 4, 0.25, dict(STANDARD_WEIGHTS)),
    # 70% of records 8-12 effective errors (no-ops redrawn), the rest one.
    "adversarial": ADVERSARIAL,
    # The old names, which the committed data/eval and data/fixture manifests carry:
    # `clinfuse-inference` is `adversarial`; `clinfuse-training` is 3-5 effective errors on
    # 70% of records with ClinFuse's training weights (also the default with no preset).
    "clinfuse-inference": ADVERSARIAL,
    "clinfuse-training": CorruptionConfig(3, 5, 0.7, dict(TRAINING_WEIGHTS)),
}
