"""Patients to train / val / test: a seeded draw by family, so no patient is in two splits.

A confusable family (twins, siblings, parent and child) is drawn as one unit: its members stay
together, and so do the relative pairs that are among the hardest negatives.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence

from mpi_training.train.dataset import SPLITS


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != len(SPLITS) or any(f < 0 for f in fractions):
        raise ValueError(f"split fractions must be three shares for {', '.join(SPLITS)}")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must add up to 1, not {sum(fractions):g}")
    train, val, test = fractions
    return train, val, test


def assign_splits(
    families: Mapping[str, str], fractions: Sequence[float], seed: int
) -> dict[str, str]:
    """Patient -> split. `families` maps each patient to its family (itself when it has none);
    families are shuffled by `seed` and cut at the fractions of the patients they hold."""
    members: dict[str, list[str]] = defaultdict(list)
    for patient, family in sorted(families.items()):
        members[family].append(patient)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    bounds = [sum(fractions[: i + 1]) * len(families) for i in range(len(SPLITS))]
    split_of: dict[str, str] = {}
    placed = 0
    for family in order:
        # A family goes where its first member would fall, so shares stay within a family's size.
        index = next((i for i, bound in enumerate(bounds) if placed < bound), len(SPLITS) - 1)
        for patient in members[family]:
            split_of[patient] = SPLITS[index]
        placed += len(members[family])
    return split_of
