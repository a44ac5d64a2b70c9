"""The model registry and its promotion gate: one champion, and every challenger with the reason
it was not promoted.

A model becomes champion only when its F1 on gray-tier test pairs beats the champion's on the
same evaluation (same pairs file, same `--limit`) without worse calibration. A champion that
was evaluated elsewhere is re-evaluated on this dataset first; when its model cannot be loaded,
nothing is promoted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_REGISTRY = Path("training/registry.json")
# Expected calibration error may rise by this much (sampling noise on a few hundred gray pairs)
# before a better F1 stops buying promotion.
ECE_TOLERANCE = 0.01


class ChampionUnavailable(Exception):
    """The champion's model cannot be loaded to re-evaluate it on another dataset."""


@dataclass(frozen=True)
class Entry:
    model_id: str
    path: str
    dataset: str
    dataset_sha256: str
    limit: int | None
    date: str
    gray: dict[str, Any]  # scores on the test split's gray-tier pairs
    test: dict[str, Any]  # scores on the whole test split
    reason: str = ""

    def same_evaluation(self, other: Entry) -> bool:
        return (self.dataset_sha256, self.limit) == (other.dataset_sha256, other.limit)


@dataclass(frozen=True)
class Decision:
    promoted: bool
    reason: str


@dataclass
class Registry:
    champion: Entry | None = None
    challengers: list[Entry] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Registry:
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        champion = data.get("champion")
        return cls(
            champion=Entry(**champion) if champion else None,
            challengers=[Entry(**entry) for entry in data.get("challengers", [])],
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "champion": asdict(self.champion) if self.champion else None,
            "challengers": [asdict(entry) for entry in self.challengers],
        }
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def decide(candidate: Entry, champion: Entry | None) -> Decision:
    """Promote on a higher gray-pair F1 with an ECE at most `ECE_TOLERANCE` worse; the two
    entries must come from the same evaluation."""
    if champion is None:
        return Decision(True, "no champion yet")
    if champion.model_id == candidate.model_id:
        return Decision(True, "the champion, re-evaluated")
    if not champion.same_evaluation(candidate):
        raise ValueError("the champion was evaluated on other pairs; re-evaluate it first")
    f1, best = candidate.gray["f1"], champion.gray["f1"]
    ece, bound = candidate.gray["ece"], champion.gray["ece"] + ECE_TOLERANCE
    if f1 <= best:
        return Decision(False, f"gray-pair F1 {f1} is not above the champion's {best}")
    if ece > bound:
        return Decision(
            False,
            f"gray-pair F1 {f1} beats {best} but ECE {ece} is worse than the champion's "
            f"{champion.gray['ece']} (+{ECE_TOLERANCE} allowed)",
        )
    return Decision(True, f"gray-pair F1 {f1} > {best}, ECE {ece} <= {bound:.4f}")


def promote(registry: Registry, candidate: Entry, rescore: Callable[[Entry], Entry]) -> Decision:
    """Gate `candidate` against the champion and record the outcome in `registry`.

    `rescore` re-evaluates the champion on the candidate's dataset (raising
    `ChampionUnavailable` when its model cannot be loaded).
    """
    champion = registry.champion
    if (
        champion is not None
        and champion.model_id != candidate.model_id
        and not champion.same_evaluation(candidate)
    ):
        try:
            champion = rescore(champion)
        except ChampionUnavailable as e:
            decision = Decision(
                False,
                f"champion {champion.model_id} was evaluated on dataset "
                f"{champion.dataset_sha256[:12]} and cannot be re-evaluated on this one: {e}",
            )
            registry.challengers.append(replace(candidate, reason=decision.reason))
            return decision
        registry.champion = champion
    decision = decide(candidate, champion)
    if not decision.promoted:
        registry.challengers.append(replace(candidate, reason=decision.reason))
        return decision
    if champion is not None and champion.model_id != candidate.model_id:
        registry.challengers.append(
            replace(champion, reason=f"champion until {candidate.model_id} beat it")
        )
    registry.challengers = [c for c in registry.challengers if c.model_id != candidate.model_id]
    registry.champion = replace(candidate, reason=decision.reason)
    return decision
