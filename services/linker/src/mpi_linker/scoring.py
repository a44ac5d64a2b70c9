"""Online scoring: records against their candidates with the trained Splink model.

Splink generates the SQL once (`compare_records` with a cache key, the fast real-time path of
reference/stack.md §1.3); every call then loads two Arrow tables into the tables that SQL reads
and runs it as a prepared statement on a private DuckDB connection. Nothing is registered per
call, so nothing leaks in a long-lived process.

Most of a call is DuckDB binding and optimising the large generated query (about 10 ms on 2
cores), whatever the number of pairs. So one thread runs every query, and the requests that
arrived while it was busy are scored together in the next one: a record is joined only to its
own candidates, so the scores are those of scoring it alone, and one query's fixed cost is
shared by all the records waiting.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
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
# Which scored record a row belongs to: records are joined to their own candidates only.
_REQUEST = "mpi_request"
# Records per query: enough to share the fixed cost, few enough to bound one query's latency.
MAX_BATCH = 16

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
        (_REQUEST, pa.int32()),
    ]
)

Row = Mapping[str, Any]


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


@dataclass
class _Job:
    requests: Sequence[tuple[Row, Sequence[Row]]]
    future: Future[list[list[dict[str, Any]]]] = field(default_factory=Future)


class Scorer:
    """A warm model; thread-safe. Queries run on one thread of their own, started on the first
    score and stopped by `close()`."""

    def __init__(self, artifact: ModelArtifact) -> None:
        self.artifact = artifact
        self._labels = _level_labels(artifact.splink)
        self._comparisons = [c["output_column_name"] for c in artifact.splink["comparisons"]]
        self._sql = self._generate_sql()
        self._neutral_tf = exact_u(artifact.splink)
        self.prior_probability = float(artifact.splink["probability_two_random_records_match"])
        # Splink's match weight of a pair is this plus its comparisons' weights.
        self.prior_match_weight = math.log2(self.prior_probability / (1 - self.prior_probability))
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()

    def _generate_sql(self) -> str:
        """Splink's comparison SQL, keeping only the columns a score is made of (the compared
        values stay in DuckDB)."""
        # Our own key: Splink caches by key alone, and this SQL has our join condition.
        cache_key = f"mpi-online-by-request-{self.artifact.version}"
        blank = dict.fromkeys(INPUT_SCHEMA.names) | {"unique_id": "probe", _REQUEST: 0}
        probe = pa.Table.from_pylist([blank], schema=INPUT_SCHEMA)
        output = realtime.compare_records(
            probe,
            probe,
            self.artifact.splink,
            DuckDBAPI(connection=duckdb.connect()),
            sql_cache_key=cache_key,
            join_condition=f'l."{_REQUEST}" = r."{_REQUEST}"',
        )
        sql = realtime._sql_cache.get(cache_key, _UID)
        if sql is None:
            raise RuntimeError("Splink did not cache the comparison SQL")
        columns = score_columns(c.unquote().name for c in output.columns)
        output.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
        return f"SELECT {', '.join(columns)} FROM ({sql})"

    def neutral_term_frequency(self, column: str) -> float:
        """The u of the exact level with TF adjustment: a value with this frequency shifts
        nothing, which is what a value never seen before should do."""
        return self._neutral_tf[column]

    def score(self, record: Row, candidates: Sequence[Row]) -> list[PairScore]:
        """Score `record` against each candidate (rows of INPUT_SCHEMA columns)."""
        return self.score_many([(record, candidates)])[0]

    def score_many(self, requests: Sequence[tuple[Row, Sequence[Row]]]) -> list[list[PairScore]]:
        """Score several records, each against its own candidates, in one query."""
        if not any(candidates for _, candidates in requests):
            return [[] for _ in requests]
        job = _Job(requests)
        self._start_worker()
        self._jobs.put(job)
        return [[self.explain(row) for row in rows] for rows in job.future.result()]

    def close(self) -> None:
        """Stop the query thread (a later score starts a new one)."""
        with self._worker_lock:
            if self._worker is not None:
                self._jobs.put(None)
                self._worker.join()
                self._worker = None

    def _start_worker(self) -> None:
        with self._worker_lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="mpi-scorer", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        # One DuckDB thread: the queries are small and the api and Postgres share the cores.
        connection = duckdb.connect(config={"threads": 1})
        empty = pa.Table.from_pylist([], schema=INPUT_SCHEMA)
        for table in (_LEFT, _RIGHT):
            connection.from_arrow(empty).create(table)
        connection.execute(f"PREPARE mpi_score AS {self._sql}")
        stopping = False
        while not stopping:
            job = self._jobs.get()
            if job is None:
                break
            jobs = [job]
            while sum(len(j.requests) for j in jobs) < MAX_BATCH:
                try:
                    waiting = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if waiting is None:
                    stopping = True
                    break
                jobs.append(waiting)
            try:
                results = _execute(connection, [r for j in jobs for r in j.requests])
            except Exception as error:  # every waiting caller gets the query's error
                for j in jobs:
                    j.future.set_exception(error)
                continue
            for j in jobs:
                j.future.set_result(results[: len(j.requests)])
                results = results[len(j.requests) :]
        connection.close()

    def explain(self, row: Row) -> PairScore:
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


def score_columns(columns: Iterable[str]) -> list[str]:
    """The columns of Splink's output that a score and its reasons are made of."""
    return [
        c
        for c in columns
        if c in ("unique_id_l", "unique_id_r", "match_weight", "match_probability")
        or c.startswith(("gamma_", "mw_"))
    ]


def _execute(
    connection: duckdb.DuckDBPyConnection, requests: Sequence[tuple[Row, Sequence[Row]]]
) -> list[list[dict[str, Any]]]:
    """Output rows of each request, in request order."""
    # The scored record's unique_id is its position: Splink's output names it unique_id_l.
    left = pa.Table.from_pylist(
        [{**record, "unique_id": str(i), _REQUEST: i} for i, (record, _) in enumerate(requests)],
        schema=INPUT_SCHEMA,
    )
    right = pa.Table.from_pylist(
        [{**c, _REQUEST: i} for i, (_, candidates) in enumerate(requests) for c in candidates],
        schema=INPUT_SCHEMA,
    )
    for table, rows in ((_LEFT, left), (_RIGHT, right)):
        connection.execute(f"DELETE FROM {table}")
        connection.from_arrow(rows).insert_into(table)
    result = connection.execute("EXECUTE mpi_score")
    names = [d[0] for d in result.description or []]
    by_request: list[list[dict[str, Any]]] = [[] for _ in requests]
    for values in result.fetchall():
        row = dict(zip(names, values, strict=True))
        by_request[int(row["unique_id_l"])].append(row)
    return by_request


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
