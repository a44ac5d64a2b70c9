"""Gray-zone pairs of a generated population: what the linker cannot decide, with the truth.

Negatives are the linker's hard cases, not random pairs (DESIGN §6): every blocked pair the
shipped Splink model puts in the gray tier, plus auto-tier pairs a guard sends to review.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from mpi_classifier.history import History, from_dataset
from mpi_linker.frames import (
    frame,
    read_events,
    read_records,
    read_truth,
    record_key,
)
from mpi_linker.guard_subjects import guard_subject_of_row
from mpi_linker.model.artifact import ModelArtifact
from mpi_linker.model.train import predict_pairs
from mpi_store.datasets import EVENTS_FILE
from mpi_store.domain.guards import pair_guards


@dataclass(frozen=True)
class LabelledPair:
    first: str
    second: str
    splink_probability: float
    is_match: bool
    first_patient: str
    second_patient: str
    guards: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GrayPairs:
    pairs: list[LabelledPair]
    histories: dict[str, History]
    # Pairs the linker links without review (auto tier, no guard), for cluster-level metrics.
    auto: list[tuple[str, str]]


def histories(data_dir: Path) -> dict[str, History]:
    """Every record's clinical history, by record key."""
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in pq.read_table(data_dir / EVENTS_FILE).to_pylist():
        rows[record_key(row["source"], row["source_record_id"])].append(row)
    return {key: from_dataset(events) for key, events in rows.items()}


def gray_pairs(data_dir: Path, artifact: ModelArtifact) -> GrayPairs:
    records = read_records(data_dir)
    truth = read_truth(data_dir)
    features = frame(records, read_events(data_dir))
    rows = {row["unique_id"]: row for row in features.to_pylist()}
    thresholds = artifact.thresholds
    pairs: list[LabelledPair] = []
    auto: list[tuple[str, str]] = []
    for p in predict_pairs(features, artifact.splink, min_probability=thresholds.reject):
        left, right = sorted((p["unique_id_l"], p["unique_id_r"]))
        tier = thresholds.tier(p["match_probability"])
        subjects = guard_subject_of_row(rows[left]), guard_subject_of_row(rows[right])
        guards = frozenset(pair_guards(*subjects))
        if tier == "auto" and not guards:
            auto.append((left, right))
        elif tier == "gray" or tier == "auto":
            pairs.append(
                LabelledPair(
                    first=left,
                    second=right,
                    splink_probability=p["match_probability"],
                    is_match=truth[left] == truth[right],
                    first_patient=truth[left],
                    second_patient=truth[right],
                    guards=guards,
                )
            )
    pairs.sort(key=lambda p: (p.first, p.second))
    every = histories(data_dir)
    empty = History(())
    return GrayPairs(pairs, {key: every.get(key, empty) for key in rows}, sorted(auto))
