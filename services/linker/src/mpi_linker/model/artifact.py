"""The versioned model artifact: Splink's JSON plus thresholds and a model card."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

# A score's tier: auto-link, gray zone (adjudicated or reviewed), or below the reject bound.
Tier = Literal["auto", "gray", "reject"]

DEFAULT_MODEL = "default.json"


# Default tiers, read off the model's own match probabilities (no truth needed): link at once
# when the model gives a wrong link at most a 1% chance; below 0.1% a pair is too unlikely to
# be worth a classifier's time; in between the clinical history decides. When the classifier
# cannot (neither record has comparable clinical events), Splink decides alone: the pair is
# linked if the model finds it more likely than not.
DEFAULT_AUTO = 0.99
DEFAULT_REJECT = 0.001
DEFAULT_ACCEPT_ALONE = 0.5


@dataclass(frozen=True)
class Thresholds:
    """Decision tiers on match probability: auto at or above `auto`, reject below `reject`;
    a gray pair the classifier abstains on is linked at or above `accept_alone`."""

    auto: float = DEFAULT_AUTO
    reject: float = DEFAULT_REJECT
    accept_alone: float = DEFAULT_ACCEPT_ALONE

    def tier(self, probability: float) -> Tier:
        if probability >= self.auto:
            return "auto"
        if probability >= self.reject:
            return "gray"
        return "reject"

    def to_dict(self) -> dict[str, float]:
        return {"auto": self.auto, "reject": self.reject, "accept_alone": self.accept_alone}


@dataclass(frozen=True)
class ModelArtifact:
    version: str
    splink: dict[str, Any]
    thresholds: Thresholds
    card: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "thresholds": self.thresholds.to_dict(),
                "card": self.card,
                "splink": self.splink,
            },
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ModelArtifact:
        data = json.loads(text)
        return cls(
            version=data["version"],
            splink=data["splink"],
            thresholds=Thresholds(**data["thresholds"]),
            card=data.get("card", {}),
        )


def version_of(splink_model: dict[str, Any], trained_on: str) -> str:
    digest = hashlib.sha256(json.dumps(splink_model, sort_keys=True).encode()).hexdigest()
    return f"splink-{trained_on}-{digest[:8]}"


def load(path: Path | None = None) -> ModelArtifact:
    """Load a model file, or the default model shipped with the package."""
    if path is None:
        text = (resources.files("mpi_linker.model") / DEFAULT_MODEL).read_text()
    else:
        text = path.read_text()
    return ModelArtifact.from_json(text)
