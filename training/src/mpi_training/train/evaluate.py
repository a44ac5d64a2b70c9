"""Evaluate a classifier on a pair dataset beside the structured-overlap backend, and fit the
fusion it will carry.

Scores are taken on the test split and on its gray-tier pairs (the only ones the classifier is
asked about in production). The fusion weight and accept threshold are fitted on the
validation split's gray pairs with the same cluster-level search the shipped models use:
the auto-tier pairs of the split are the linker's links, the gray pairs the candidates.
The dataset keeps no guards, so every gray pair counts as one the worker could merge.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from mpi_classifier.backends import Pair
from mpi_classifier.backends.local import CARD_FILE, LocalClassifier
from mpi_classifier.backends.overlap import OverlapClassifier
from mpi_classifier.fusion import Fusion
from mpi_linker.features import RECORD_KEY_SEPARATOR
from mpi_training.adjudication.closure import fit_on_clusters
from mpi_training.adjudication.metrics import quality
from mpi_training.adjudication.pairs import GrayPairs, LabelledPair
from mpi_training.evaluate import RecordKey
from mpi_training.train.calibration import plot_reliability, scores
from mpi_training.train.card import now
from mpi_training.train.dataset import DatasetPair, PairDataset
from mpi_training.train.modelcard import README_FILE, add_evaluation
from mpi_training.train.registry import ChampionUnavailable, Entry, Registry, promote

EVALUATION_FILE = "evaluation.json"
RELIABILITY_FILE = "reliability.png"
# `--limit` draws its pairs with this seed, so two models limited alike read the same pairs.
LIMIT_SEED = 0


@dataclass(frozen=True)
class Backend:
    """One classifier's probabilities on the evaluated pairs."""

    model_id: str
    training_prior: float
    test: list[float]
    val: list[float]
    # Test pairs classified per second, summaries included, on this machine.
    pairs_per_second: float


@dataclass(frozen=True)
class Evaluation:
    dataset: PairDataset
    limit: int | None
    test: list[DatasetPair]
    val: list[DatasetPair]

    @classmethod
    def of(cls, dataset: PairDataset, limit: int | None) -> Evaluation:
        return cls(
            dataset,
            limit,
            _limited(dataset.split("test"), limit),
            _limited(dataset.split("val"), limit),
        )

    def local(self, model: Path, *, validation: bool = True) -> Backend:
        """The model at `model` (`LocalClassifier.load`) on the test pairs, and on the
        validation pairs unless `validation` is false (nothing to fit)."""
        classifier = LocalClassifier.load(model)
        card = json.loads((model / CARD_FILE).read_text())

        def classify(pairs: Sequence[DatasetPair]) -> list[float]:
            return classifier.classify_texts(self.dataset.texts(pairs, classifier.summarizer))

        started = time.perf_counter()
        test = classify(self.test)
        return Backend(
            classifier.model_id,
            float(card["fusion"]["training_prior"]),
            test,
            classify(self.val) if validation else [],
            _rate(len(test), started),
        )

    def overlap(self) -> Backend:
        classifier = OverlapClassifier.load()

        def classify(pairs: Sequence[DatasetPair]) -> list[float]:
            histories = self.dataset.history
            return classifier.classify(
                [Pair(histories(p.first), histories(p.second)) for p in pairs]
            )

        started = time.perf_counter()
        test = classify(self.test)
        return Backend(
            classifier.model_id,
            classifier.fusion.training_prior,
            test,
            classify(self.val),
            _rate(len(test), started),
        )

    @property
    def gray(self) -> list[int]:
        """Positions of the test split's gray-tier pairs."""
        return [i for i, p in enumerate(self.test) if p.tier == "gray"]

    @property
    def labels(self) -> list[bool]:
        return [bool(p.label) for p in self.test]

    def gray_scores(self, probabilities: Sequence[float]) -> dict[str, Any]:
        return scores([probabilities[i] for i in self.gray], [self.labels[i] for i in self.gray])

    def report(self, backend: Backend) -> tuple[Fusion, dict[str, Any]]:
        """Scores on the test split and its gray pairs, the fusion fitted on the validation
        gray pairs, and the fused decision on the test gray pairs at its threshold."""
        fusion, fit = self.fit_fusion(backend)
        fused = [fusion.fuse(_splink(self.test[i]), backend.test[i]) for i in self.gray]
        labels = [self.labels[i] for i in self.gray]
        return fusion, {
            "id": backend.model_id,
            "pairs_per_second": backend.pairs_per_second,
            "test": scores(backend.test, self.labels),
            "test_gray": self.gray_scores(backend.test),
            "fusion": fusion.to_dict(),
            "fusion_fit": fit,
            "fused_test_gray": quality(fused, labels, threshold=fusion.threshold).as_dict(),
        }

    def splink_gray(self) -> dict[str, Any]:
        """Splink alone on the test gray pairs, at 0.5: what the classifier must improve on."""
        gray = self.gray
        return scores([_splink(self.test[i]) for i in gray], [self.labels[i] for i in gray])

    def fit_fusion(self, backend: Backend) -> tuple[Fusion, dict[str, Any]]:
        gray = [(p, q) for p, q in zip(self.val, backend.val, strict=True) if p.tier == "gray"]
        if not gray:
            raise ValueError("the validation split has no gray-tier pairs to fit the fusion on")
        keys = sorted({key for p in self.val for key in (p.first, p.second)})
        patient = {p.first: p.first_patient for p in self.val} | {
            p.second: p.second_patient for p in self.val
        }
        candidates = GrayPairs(
            pairs=[
                LabelledPair(
                    first=p.first,
                    second=p.second,
                    splink_probability=_splink(p),
                    is_match=bool(p.label),
                    first_patient=p.first_patient,
                    second_patient=p.second_patient,
                )
                for p, _ in gray
            ],
            histories={key: self.dataset.history(key) for key in keys},
            auto=[(p.first, p.second) for p in self.val if p.tier == "auto"],
        )
        truth: dict[RecordKey, str] = {_record(key): patient[key] for key in keys}
        fusion, clusters = fit_on_clusters(
            candidates, [q for _, q in gray], truth, training_prior=backend.training_prior
        )
        return fusion, {
            "data": self.dataset.path.name,
            "dataset_sha256": self.dataset.sha256(),
            "split": "val",
            "gray_pairs": len(gray),
            "clusters": clusters,
        }

    def entry(self, backend: Backend, path: Path, date: str) -> Entry:
        return Entry(
            model_id=backend.model_id,
            path=str(path),
            dataset=self.dataset.path.name,
            dataset_sha256=self.dataset.sha256(),
            limit=self.limit,
            date=date,
            gray=self.gray_scores(backend.test),
            test=scores(backend.test, self.labels),
        )

    def rescore(self, champion: Entry, date: str) -> Entry:
        """The champion's scores on these pairs (its own fusion is left alone)."""
        path = Path(champion.path)
        if not (path / CARD_FILE).is_file():
            raise ChampionUnavailable(f"no model card at {path}")
        try:
            backend = self.local(path, validation=False)
        except (OSError, ValueError, KeyError) as e:
            raise ChampionUnavailable(f"{path} does not load ({type(e).__name__})") from e
        return self.entry(backend, path, date)


def _rate(count: int, started: float) -> float:
    return round(count / max(time.perf_counter() - started, 1e-9), 1)


def _limited(pairs: list[DatasetPair], limit: int | None) -> list[DatasetPair]:
    """At most `limit` pairs: the gray-tier ones first (the fusion is fitted and the gate
    decided on them), then a seeded draw of the others."""
    if limit is None or len(pairs) <= limit:
        return pairs
    gray = [i for i, p in enumerate(pairs) if p.tier == "gray"]
    others = [i for i, p in enumerate(pairs) if p.tier != "gray"]
    rng = random.Random(LIMIT_SEED)
    chosen = rng.sample(gray, min(limit, len(gray)))
    chosen += rng.sample(others, limit - len(chosen))
    return [pairs[i] for i in sorted(chosen)]


def _splink(pair: DatasetPair) -> float:
    if pair.splink_probability is None:
        raise ValueError(f"pair {pair.first} / {pair.second} has no Splink probability")
    return pair.splink_probability


def _record(key: str) -> RecordKey:
    source, source_record_id = key.split(RECORD_KEY_SEPARATOR)
    return source, source_record_id


def write_fusion(model: Path, fusion: Fusion, fit: dict[str, Any]) -> None:
    """The fitted fusion into the model's card: the model carries the fusion it was fitted
    with (`fusion_fit` says on which pairs)."""
    card = json.loads((model / CARD_FILE).read_text())
    card |= {"fusion": fusion.to_dict(), "fusion_fit": fit}
    (model / CARD_FILE).write_text(json.dumps(card, indent=1, sort_keys=True) + "\n")


def evaluate_and_gate(
    model: Path, data: Path, *, registry_path: Path, out: Path, limit: int | None
) -> dict[str, Any]:
    """Evaluate `model` and the overlap backend on `data`, write the fitted fusion into the
    model's card, the reliability plot and `evaluation.json` into `out`, and gate the model
    into the registry. Returns the evaluation (with the decision)."""
    dataset = PairDataset.load(data)
    evaluation = Evaluation.of(dataset, limit)
    date = now()
    model_backend = evaluation.local(model)
    fusion, model_report = evaluation.report(model_backend)
    overlap = evaluation.overlap()
    _, overlap_report = evaluation.report(overlap)
    write_fusion(model, fusion, model_report["fusion_fit"])

    out.mkdir(parents=True, exist_ok=True)
    gray, labels = evaluation.gray, evaluation.labels
    plot_reliability(
        {
            f"{model_backend.model_id}, test": (model_backend.test, labels),
            f"{model_backend.model_id}, gray": (
                [model_backend.test[i] for i in gray],
                [labels[i] for i in gray],
            ),
            "overlap, gray": ([overlap.test[i] for i in gray], [labels[i] for i in gray]),
        },
        out / RELIABILITY_FILE,
        title=f"Reliability on {dataset.path.name} (test split)",
    )

    registry = Registry.load(registry_path)
    decision = promote(
        registry,
        evaluation.entry(model_backend, model, date),
        lambda champion: evaluation.rescore(champion, date),
    )
    registry.save(registry_path)
    result = {
        "model": model_backend.model_id,
        "dataset": {"name": dataset.path.name, "sha256": dataset.sha256(), "limit": limit},
        "evaluated_at": date,
        "pairs": {"test": len(evaluation.test), "test_gray": len(gray), "val": len(evaluation.val)},
        "backends": {"model": model_report, "overlap": overlap_report},
        "splink_test_gray": evaluation.splink_gray(),
        "promotion": {"registry": str(registry_path), **asdict(decision)},
    }
    (out / EVALUATION_FILE).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    add_evaluation(model / README_FILE, result)
    return result


def results_table(result: dict[str, Any]) -> Table:
    """Test split ("test"), its gray-tier pairs ("gray", at 0.5) and the fused decision on
    them at the fitted threshold ("fused"), per backend; Splink alone on the gray pairs."""
    table = Table(title=f"{result['model']} on {result['dataset']['name']} (test split)")
    table.add_column("backend")
    table.add_column("pairs")
    for column in ("n", "match", "P", "R", "F1", "AUC", "ECE"):
        table.add_column(column, justify="right")
    rows: list[tuple[str, str, dict[str, Any]]] = [("splink", "gray", result["splink_test_gray"])]
    for name, report in result["backends"].items():
        rows += [
            (name, "test", report["test"]),
            (name, "gray", report["test_gray"]),
            (name, "fused", report["fused_test_gray"]),
        ]
    for name, subset, s in rows:
        auc = s.get("roc_auc")
        table.add_row(
            name,
            subset,
            str(s["pairs"]),
            str(s["positives"]),
            *(f"{s[k]:.3f}" for k in ("precision", "recall", "f1")),
            "-" if auc is None else f"{auc:.3f}",
            f"{s['ece']:.3f}",
        )
    return table
