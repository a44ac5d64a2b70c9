"""Online scoring: a record against its candidates with the trained Splink model.

The model's comparison levels are evaluated directly (`mpi_linker.compiled`: the same gammas
and match weights as Splink's predict, checked on >= 100k pairs by a parity test), so a call
costs microseconds per pair instead of a DuckDB query's ~10 ms of binding and optimising.
Splink stays the trainer and the batch path (`explain` reads its output rows too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from mpi_linker.compiled import CompiledModel
from mpi_linker.model.artifact import ModelArtifact

Row = Mapping[str, Any]


class ComparisonScore(NamedTuple):
    level: int
    label: str
    match_weight: float


class _Reasons:
    """Each pair's level and weight per comparison (its term-frequency adjustment included),
    as lists in pair order, made into `ComparisonScore`s when read."""

    __slots__ = ("_labels", "_levels", "_weights")

    def __init__(
        self,
        labels: Mapping[tuple[str, int], str],
        levels: dict[str, list[int]],
        weights: dict[str, list[float]],
    ) -> None:
        self._labels, self._levels, self._weights = labels, levels, weights

    def of(self, at: int) -> dict[str, ComparisonScore]:
        found = {}
        for name, levels in self._levels.items():
            level = levels[at]
            label = self._labels.get((name, level), "")
            found[name] = ComparisonScore(level, label, self._weights[name][at])
        return found


class PairScore:
    """A candidate's score; its reasons (`comparisons`, in the model's order) are made when
    read, since a decision reads those of a few candidates only."""

    __slots__ = ("_at", "_reasons", "candidate_id", "match_probability", "match_weight")

    def __init__(
        self,
        candidate_id: str,
        match_probability: float,
        match_weight: float,
        reasons: _Reasons,
        at: int,
    ) -> None:
        self.candidate_id = candidate_id
        self.match_probability = match_probability
        self.match_weight = match_weight
        self._reasons, self._at = reasons, at

    @property
    def comparisons(self) -> dict[str, ComparisonScore]:
        return self._reasons.of(self._at)


class Scorer:
    """A warm model; thread-safe (it keeps no state between calls)."""

    def __init__(self, artifact: ModelArtifact) -> None:
        self.artifact = artifact
        self._labels = _level_labels(artifact.splink)
        self._comparisons = [c["output_column_name"] for c in artifact.splink["comparisons"]]
        self._compiled = CompiledModel(artifact.splink)
        self._neutral_tf = exact_u(artifact.splink)
        self.prior_probability = float(artifact.splink["probability_two_random_records_match"])
        # Splink's match weight of a pair is this plus its comparisons' weights.
        self.prior_match_weight = self._compiled.prior_match_weight

    def neutral_term_frequency(self, column: str) -> float:
        """The u of the exact level with TF adjustment: a value with this frequency shifts
        nothing, which is what a value never seen before should do."""
        return self._neutral_tf[column]

    def score(self, record: Row, candidates: Sequence[Row]) -> list[PairScore]:
        """Score `record` against each candidate (rows of the compared columns, `tf_*`
        frequencies and `unique_id`)."""
        scores = self._compiled.against(record, candidates)
        reasons = _Reasons(
            self._labels,
            {name: scores.gamma[name].tolist() for name in self._comparisons},
            {
                name: (scores.weight[name] + scores.adjustment[name]).tolist()
                for name in self._comparisons
            },
        )
        return [
            PairScore(str(candidate["unique_id"]), probability, weight, reasons, at)
            for at, (candidate, probability, weight) in enumerate(
                zip(
                    candidates,
                    scores.match_probability.tolist(),
                    scores.match_weight.tolist(),
                    strict=True,
                )
            )
        ]

    def explain(self, row: Row) -> PairScore:
        """A row of Splink output (online or batch predict) as a score with its reasons."""
        levels = {name: [int(row[f"gamma_{name}"])] for name in self._comparisons}
        weights = {
            name: [row[f"mw_{name}"] + (row.get(f"mw_tf_adj_{name}") or 0.0)]
            for name in self._comparisons
        }
        return PairScore(
            str(row["unique_id_r"]),
            float(row["match_probability"]),
            float(row["match_weight"]),
            _Reasons(self._labels, levels, weights),
            0,
        )


def score_columns(columns: Iterable[str]) -> list[str]:
    """The columns of Splink's output that a score and its reasons are made of."""
    return [
        c
        for c in columns
        if c in ("unique_id_l", "unique_id_r", "match_weight", "match_probability")
        or c.startswith(("gamma_", "mw_"))
    ]


def _level_labels(splink_model: Mapping[str, Any]) -> dict[tuple[str, int], str]:
    """(comparison, gamma) -> label. Splink numbers non-null levels from the top: the first
    gets n-1, the else level 0; the null level is -1."""
    labels = {}
    for comparison in splink_model["comparisons"]:
        name = comparison["output_column_name"]
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        for position, level in enumerate(levels):
            labels[(name, len(levels) - 1 - position)] = level.get("label_for_charts", "")
        labels[(name, -1)] = "Missing on one side"
    return labels


def exact_u(splink_model: Mapping[str, Any]) -> dict[str, float]:
    """Per term-frequency column, the model's u for an exact match: a neutral frequency."""
    neutral = {}
    for comparison in splink_model["comparisons"]:
        for level in comparison["comparison_levels"]:
            column = level.get("tf_adjustment_column")
            if column and "u_probability" in level:
                neutral[column] = float(level["u_probability"])
    return neutral
