"""Online scoring: one record against its candidates with the trained Splink model.

Splink generates the SQL once (`compare_records` with a cache key, the fast real-time path of
reference/stack.md §1.3); every call then binds two Arrow tables under the names that SQL
reads and runs it on a private DuckDB connection. Nothing is registered per call, so nothing
leaks in a long-lived process.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
from splink import DuckDBAPI
from splink.internals import realtime

from mpi_linker.features import FEATURE_COLUMNS, TF_COLUMNS
from mpi_linker.model.artifact import ModelArtifact
from mpi_linker.model.definition import BLOCKING_KEYS_COLUMN

_UID = "mpionline"
_LEFT = f"__splink__compare_records_left_{_UID}"
_RIGHT = f"__splink__compare_records_right_{_UID}"

INPUT_SCHEMA = pa.schema(
    [
        ("unique_id", pa.string()),
        *[
            (c, pa.list_(pa.string()) if c == "given_aliases" else pa.string())
            for c in FEATURE_COLUMNS
        ],
        *[(f"tf_{c}", pa.float64()) for c in TF_COLUMNS],
        # Selected by Splink's SQL because the batch blocking rule names it; unused in scoring.
        (BLOCKING_KEYS_COLUMN, pa.list_(pa.string())),
    ]
)


@dataclass(frozen=True)
class ComparisonScore:
    level: int
    label: str
    match_weight: float


@dataclass(frozen=True)
class PairScore:
    candidate_id: str
    match_probability: float
    match_weight: float
    comparisons: dict[str, ComparisonScore]


class Scorer:
    """A warm model; thread-safe (a DuckDB connection per thread)."""

    def __init__(self, artifact: ModelArtifact) -> None:
        self.artifact = artifact
        self._local = threading.local()
        self._labels = _level_labels(artifact.splink)
        self._comparisons = [c["output_column_name"] for c in artifact.splink["comparisons"]]
        self._sql = self._generate_sql()
        self._neutral_tf = _exact_u(artifact.splink)

    def _generate_sql(self) -> str:
        cache_key = f"mpi-{self.artifact.version}"
        blank = dict.fromkeys(INPUT_SCHEMA.names) | {"unique_id": "probe"}
        probe = pa.Table.from_pylist([blank], schema=INPUT_SCHEMA)
        realtime.compare_records(
            probe,
            probe,
            self.artifact.splink,
            DuckDBAPI(connection=duckdb.connect()),
            sql_cache_key=cache_key,
        )
        sql = realtime._sql_cache.get(cache_key, _UID)
        if sql is None:
            raise RuntimeError("Splink did not cache the comparison SQL")
        return sql

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """One in-memory DuckDB per thread: requests score in parallel without sharing state.
        A single thread each, because one small query gains nothing from parallelism."""
        connection: duckdb.DuckDBPyConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = duckdb.connect(config={"threads": 1})
            self._local.connection = connection
        return connection

    def neutral_term_frequency(self, column: str) -> float:
        """The u of the exact level with TF adjustment: a value with this frequency shifts
        nothing, which is what a value never seen before should do."""
        return self._neutral_tf[column]

    def score(
        self, record: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]]
    ) -> list[PairScore]:
        """Score `record` against each candidate (rows of INPUT_SCHEMA columns)."""
        if not candidates:
            return []
        left = pa.Table.from_pylist([dict(record)], schema=INPUT_SCHEMA)
        right = pa.Table.from_pylist([dict(c) for c in candidates], schema=INPUT_SCHEMA)
        connection = self._connection()
        connection.register(_LEFT, left)
        connection.register(_RIGHT, right)
        values = connection.execute(self._sql).fetchall()
        names = [d[0] for d in connection.description or []]
        return [self.explain(dict(zip(names, row, strict=True))) for row in values]

    def explain(self, row: Mapping[str, Any]) -> PairScore:
        """A row of Splink output (online or batch predict) as a score with its reasons."""
        comparisons = {}
        for name in self._comparisons:
            level = int(row[f"gamma_{name}"])
            weight = row[f"mw_{name}"] + (row.get(f"mw_tf_adj_{name}") or 0.0)
            comparisons[name] = ComparisonScore(
                level=level, label=self._labels.get((name, level), ""), match_weight=weight
            )
        return PairScore(
            candidate_id=str(row["unique_id_r"]),
            match_probability=float(row["match_probability"]),
            match_weight=float(row["match_weight"]),
            comparisons=comparisons,
        )


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


def _exact_u(splink_model: Mapping[str, Any]) -> dict[str, float]:
    neutral = {}
    for comparison in splink_model["comparisons"]:
        for level in comparison["comparison_levels"]:
            column = level.get("tf_adjustment_column")
            if column and "u_probability" in level:
                neutral[column] = float(level["u_probability"])
    return neutral
