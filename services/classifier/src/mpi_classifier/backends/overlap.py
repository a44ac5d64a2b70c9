"""Structured clinical-overlap classifier: rarity-weighted code overlap, vitals agreement, and a
logistic regression over them (coefficients shipped as JSON; no ML library at run time).

Records of one patient at two facilities hold different encounters (ClinFuse segmentation), so
the evidence is what carries across visits: chronic medications renewed at both, repeated
procedures and immunizations, allergies, and stable vitals (an adult's height, often the
exact same value). Shared rare codes weigh more than shared common ones (inverse document
frequency over the training population's records).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from mpi_classifier.backends import Pair
from mpi_classifier.fusion import Fusion, sigmoid
from mpi_classifier.history import Event, History

BACKEND = "overlap"
DEFAULT_MODEL = "overlap.json"
CODED_TYPES: tuple[str, ...] = (
    "condition",
    "medication",
    "procedure",
    "allergy",
    "immunization",
    "observation",
)
# LOINC codes of vitals that stay put (height) or drift slowly (weight, BMI).
VITALS: tuple[tuple[str, str], ...] = (
    ("height", "8302-2"),
    ("weight", "29463-7"),
    ("bmi", "39156-5"),
)
EXACT_VALUE_CODES = frozenset({"8302-2", "29463-7", "39156-5", "8480-6", "8462-4"})

FEATURES: tuple[str, ...] = (
    *(f"{t}_{kind}" for t in CODED_TYPES for kind in ("jaccard", "shared")),
    *(f"{v}_{kind}" for v, _ in VITALS for kind in ("nearest_diff", "min_diff", "missing")),
    "vitals_exact",
    "empty",
)


@dataclass(frozen=True)
class Rarity:
    """Inverse document frequency of concept keys over the training records."""

    idf: Mapping[str, float]
    unknown: float

    def of(self, key: str) -> float:
        return self.idf.get(key, self.unknown)

    @classmethod
    def fit(cls, histories: Sequence[History]) -> Rarity:
        counts: dict[str, int] = {}
        for history in histories:
            for key in {e.key for e in history.events if e.type in CODED_TYPES}:
                counts[key] = counts.get(key, 0) + 1
        total = len(histories)
        idf = {k: round(math.log((total + 1) / (c + 1)) + 1, 4) for k, c in sorted(counts.items())}
        return cls(idf=idf, unknown=round(math.log(total + 1) + 1, 4))


def features(first: History, second: History, rarity: Rarity) -> list[float]:
    """The feature vector of a pair, in `FEATURES` order; symmetric in its arguments."""
    values: list[float] = []
    for event_type in CODED_TYPES:
        keys_a = {e.key for e in first.of(event_type)}
        keys_b = {e.key for e in second.of(event_type)}
        shared = sum(rarity.of(k) for k in keys_a & keys_b)
        union = sum(rarity.of(k) for k in keys_a | keys_b)
        values += [shared / union if union else 0.0, math.log1p(shared)]
    observations_a, observations_b = first.of("observation"), second.of("observation")
    for _, code in VITALS:
        values += _vital_agreement(_series(observations_a, code), _series(observations_b, code))
    exact_a = _exact_values(observations_a)
    values.append(math.log1p(len(exact_a & _exact_values(observations_b))))
    values.append(1.0 if first.empty or second.empty else 0.0)
    return values


def _series(observations: list[Event], code: str) -> list[tuple[int, float]]:
    return [
        (e.start.toordinal(), e.value_number)
        for e in observations
        if e.code == code and e.value_number is not None and e.start is not None
    ]


def _vital_agreement(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> list[float]:
    """log1p |Δvalue| of the measurements closest in time, the smallest |Δvalue| of any two,
    and whether either side has none."""
    if not a or not b:
        return [0.0, 0.0, 1.0]
    nearest = min(((abs(da - db), abs(va - vb)) for da, va in a for db, vb in b))
    smallest = min(abs(va - vb) for _, va in a for _, vb in b)
    return [math.log1p(nearest[1]), math.log1p(smallest), 0.0]


def _exact_values(observations: list[Event]) -> set[tuple[str | None, float]]:
    return {
        (e.code, round(e.value_number, 1))
        for e in observations
        if e.code in EXACT_VALUE_CODES and e.value_number is not None
    }


@dataclass(frozen=True)
class OverlapModel:
    """A fitted logistic regression over standardised `FEATURES`, with its rarity table."""

    version: str
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    rarity: Rarity
    fusion: Fusion
    card: dict[str, Any] = field(default_factory=dict)

    def probability(self, first: History, second: History) -> float:
        x = features(first, second, self.rarity)
        z = self.intercept + sum(
            c * (v - m) / s for c, v, m, s in zip(self.coef, x, self.mean, self.scale, strict=True)
        )
        return sigmoid(z)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "features": list(FEATURES),
                "mean": list(self.mean),
                "scale": list(self.scale),
                "coef": list(self.coef),
                "intercept": self.intercept,
                "idf": dict(self.rarity.idf),
                "idf_unknown": self.rarity.unknown,
                "fusion": self.fusion.to_dict(),
                "card": self.card,
            },
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> OverlapModel:
        data = json.loads(text)
        if tuple(data["features"]) != FEATURES:
            raise ValueError("overlap model was fitted on other features; refit it")
        return cls(
            version=data["version"],
            mean=tuple(data["mean"]),
            scale=tuple(data["scale"]),
            coef=tuple(data["coef"]),
            intercept=float(data["intercept"]),
            rarity=Rarity(idf=data["idf"], unknown=float(data["idf_unknown"])),
            fusion=Fusion.from_dict(data["fusion"]),
            card=data.get("card", {}),
        )


def version_of(coef: Sequence[float], intercept: float, trained_on: str) -> str:
    digest = hashlib.sha256(json.dumps([list(coef), intercept]).encode()).hexdigest()
    return f"{BACKEND}-{trained_on}-{digest[:8]}"


def load_model(path: str | Path | None = None) -> OverlapModel:
    if path is None:
        text = (resources.files("mpi_classifier.models") / DEFAULT_MODEL).read_text()
    else:
        text = Path(path).read_text()
    return OverlapModel.from_json(text)


class OverlapClassifier:
    name = BACKEND

    def __init__(self, model: OverlapModel) -> None:
        self.model = model
        self.model_id = model.version
        self.fusion = model.fusion

    @classmethod
    def load(cls, path: str | Path | None = None) -> OverlapClassifier:
        return cls(load_model(path))

    def classify(self, pairs: Sequence[Pair]) -> list[float]:
        return [self.model.probability(p.first, p.second) for p in pairs]
