"""The versioned model artifact: Splink's JSON plus thresholds and a model card."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "default.json"


@dataclass(frozen=True)
class Thresholds:
    """Decision tiers on match probability: auto at or above `auto`, reject below `reject`."""

    auto: float
    reject: float

    def tier(self, probability: float) -> str:
        if probability >= self.auto:
            return "auto"
        if probability >= self.reject:
            return "gray"
        return "reject"


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
                "thresholds": {"auto": self.thresholds.auto, "reject": self.thresholds.reject},
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
