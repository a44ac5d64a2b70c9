"""Cluster-level quality of gray-pair decisions: the transitive closure of the auto links plus
the accepted gray pairs, scored against the truth (a batch stand-in for the online path)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mpi_classifier.apply import MERGE_GUARDS
from mpi_classifier.fusion import WEIGHTS, Fusion
from mpi_linker.features import RECORD_KEY_SEPARATOR
from mpi_store.datasets import TRUTH_FILE
from mpi_training.adjudication.metrics import quality
from mpi_training.adjudication.pairs import GrayPairs
from mpi_training.evaluate import RecordKey, evaluate, load_truth

CLUSTER_METRICS = (
    "pairwise_precision",
    "pairwise_recall",
    "pairwise_f1",
    "split_patients",
    "impure_clusters",
)
# Thresholds tried per weight: quantiles of the fused scores.
_THRESHOLDS = 80


def accepted(pairs: GrayPairs, fused: Sequence[float], threshold: float) -> list[bool]:
    """What the worker would merge: fused at or above the threshold and no merge guard."""
    return [
        f >= threshold and not (p.guards & MERGE_GUARDS)
        for p, f in zip(pairs.pairs, fused, strict=True)
    ]


def clusters(
    pairs: GrayPairs, merged: Sequence[bool], truth: Mapping[RecordKey, str]
) -> dict[str, Any]:
    parent = {key: key for key in pairs.histories}

    def find(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    chosen = [(p.first, p.second) for p, ok in zip(pairs.pairs, merged, strict=True) if ok]
    for a, b in [*pairs.auto, *chosen]:
        parent[find(a)] = find(b)
    result = evaluate(truth, {_record(key): find(key) for key in parent})
    return {
        k: round(v, 4) if isinstance(v, float) else v
        for k, v in result.items()
        if k in CLUSTER_METRICS
    }


def _record(key: str) -> RecordKey:
    source, source_record_id = key.split(RECORD_KEY_SEPARATOR)
    return source, source_record_id


def fit_on_clusters(
    pairs: GrayPairs,
    probabilities: Sequence[float],
    truth: Mapping[RecordKey, str],
    *,
    training_prior: float,
) -> tuple[Fusion, dict[str, Any]]:
    """The weight and threshold with the best pairwise F1 over the closure of a dev
    population: false merges chain into impure clusters, so pair-level F1 overrates
    permissive thresholds."""
    best: tuple[float, Fusion, dict[str, Any]] | None = None
    for weight in WEIGHTS:
        fusion = Fusion(weight=weight, threshold=0.5, training_prior=training_prior)
        fused = [
            fusion.fuse(p.splink_probability, c)
            for p, c in zip(pairs.pairs, probabilities, strict=True)
        ]
        ordered = sorted(set(fused))
        step = max(len(ordered) // _THRESHOLDS, 1)
        # 1.0 accepts nothing: Splink alone is always a candidate.
        for threshold in [*ordered[::step], 1.0]:
            metrics = clusters(pairs, accepted(pairs, fused, threshold), truth)
            if best is None or metrics["pairwise_f1"] > best[0]:
                chosen = Fusion(weight=weight, threshold=threshold, training_prior=training_prior)
                best = (metrics["pairwise_f1"], chosen, metrics)
    if best is None:
        raise ValueError("no gray pairs to fit the fusion on")
    return best[1], best[2]


def fit_and_report(
    dev_dir: Path, dev: GrayPairs, probabilities: Sequence[float], *, training_prior: float
) -> tuple[Fusion, dict[str, Any]]:
    """Fit the fusion on a dev population and describe it: the classifier alone, the fused
    decision on gray pairs, and the clusters beside Splink alone."""
    truth, _ = load_truth(dev_dir / TRUTH_FILE)
    fusion, fused_clusters = fit_on_clusters(
        dev, probabilities, truth, training_prior=training_prior
    )
    labels = [p.is_match for p in dev.pairs]
    fused = [
        fusion.fuse(p.splink_probability, c) for p, c in zip(dev.pairs, probabilities, strict=True)
    ]
    return fusion, {
        "data": dev_dir.name,
        "gray_pairs": len(dev.pairs),
        "true_matches": sum(labels),
        "classifier_at_0.5": quality(probabilities, labels).as_dict(),
        "fused_at_operating_point": quality(fused, labels, threshold=fusion.threshold).as_dict(),
        "clusters": fused_clusters,
        "splink_only_clusters": clusters(dev, [False] * len(dev.pairs), truth),
    }
