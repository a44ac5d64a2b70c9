"""Classifier backends behind one interface: P(same patient) for pairs of clinical histories.

- `overlap`: structured overlap features and a logistic regression (pure Python, fast).
- `local`: a MiniLM cross-encoder in-process with transformers (the `ml` extra).
- `vllm`: a decoder classifier (MedGemma) served by vLLM's `/classify` over HTTP.

Each backend carries its model id and the fusion parameters fitted for that model version.
Backend failures raise `mpi_store.domain.errors.ClassifierUnavailable`; the task retries them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mpi_classifier.fusion import Fusion
from mpi_classifier.history import History

if TYPE_CHECKING:
    from mpi_classifier.settings import Settings


@dataclass(frozen=True)
class Pair:
    first: History
    second: History


class Classifier(Protocol):
    name: str
    model_id: str
    fusion: Fusion

    def classify(self, pairs: Sequence[Pair]) -> list[float]:
        """P(same patient) per pair, in order."""
        ...


def make_classifier(settings: Settings) -> Classifier:
    """The backend the settings name (heavy imports only for the one chosen)."""
    if settings.backend == "overlap":
        from mpi_classifier.backends.overlap import OverlapClassifier

        return OverlapClassifier.load(settings.model)
    if settings.backend == "local":
        from mpi_classifier.backends.local import LocalClassifier

        return LocalClassifier.load(
            settings.model, batch_size=settings.batch_size, max_tokens=settings.max_tokens
        )
    from mpi_classifier.backends.vllm import VllmClassifier

    return VllmClassifier.from_settings(settings)
