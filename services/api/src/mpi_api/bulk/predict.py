"""Splink's batch predict on DuckDB over a whole load, its pairs streamed by their later record.

Scores use the term-frequency table in Postgres as it stands when the load starts (neutral for
unseen values), as the online linker does. Splink scores the load a chunk of blocked pairs at a
time, so DuckDB never holds them all; each chunk's pairs, with their scores only and sorted by
their later record, go to a temporary Parquet file, and the files are merged as they are read:
the decisions hold a few thousand pairs at a time.
"""

from __future__ import annotations

import heapq
import itertools
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from splink import DuckDBAPI, Linker

from mpi_api.bulk.ingest import batches
from mpi_api.bulk.progress import Progress, Step
from mpi_linker.features import MAX_BLOCK_SIZE, TF_COLUMNS
from mpi_linker.frames import SCHEMA
from mpi_linker.model.artifact import ModelArtifact
from mpi_linker.model.definition import BLOCKING_KEYS_COLUMN
from mpi_linker.scoring import Scorer, score_columns
from mpi_linker.term_frequencies import refresh as refresh_term_frequencies
from mpi_store.repositories import LinkerIndexRepository

TF_LOOKUP_BATCH = 1000

# Splink scores a load in chunks of about this many blocked pairs (a pair counted once per key
# it shares). DuckDB's memory while it scores is about 1.4 KB per record plus what a chunk
# takes: about 1.4 GB for 5 M pairs, 0.3 GB for 1 M (measured at 300,000 records, where
# 1 M-pair chunks took about 15% longer).
BLOCKED_PAIRS_PER_CHUNK = 5_000_000
# Rows read at a time from each chunk's file while the chunks are merged.
PAIR_BATCH = 2000
_LATER, _EARLIER = "mpi_later_id", "mpi_earlier_id"

# A record id and its pairs with earlier records: (the earlier record's id, Splink's row).
RecordPairs = tuple[int, list[tuple[int, dict[str, Any]]]]


@dataclass(frozen=True)
class Predictions:
    count: int  # pairs at or above the reject bound
    by_record: Iterator[RecordPairs]  # ascending record id; records without pairs left out


def term_frequencies(
    index: LinkerIndexRepository, scorer: Scorer, table: pa.Table
) -> dict[str, dict[str, float]]:
    """Per TF column, every value in the load with its frequency in Postgres, refreshed first
    from every indexed record (the load's included), as the linker would once it saw them."""
    refresh_term_frequencies(index.session, scorer.artifact)
    wanted = {
        column: sorted(v for v in pc.unique(table.column(column)).to_pylist() if v)
        for column in TF_COLUMNS
    }
    known: dict[str, dict[str, float]] = {column: {} for column in TF_COLUMNS}
    # In chunks: a load has hundreds of thousands of distinct names, more than one statement
    # can carry (Postgres fails with "stack depth limit exceeded" on about 10,000 values).
    for column, values in wanted.items():
        for chunk in batches(values, TF_LOOKUP_BATCH):
            known[column].update(index.term_frequencies({column: chunk})[column])
    return {
        column: {
            value: known[column].get(value, scorer.neutral_term_frequency(column))
            for value in values
        }
        for column, values in wanted.items()
    }


@contextmanager
def batch_predict(
    table: pa.Table,
    artifact: ModelArtifact,
    tfs: dict[str, dict[str, float]],
    progress: Progress,
) -> Iterator[Predictions]:
    """The pairs of `table`'s records (ids as `unique_id`) at or above the reject bound; they
    can be read until the block ends."""
    if table.num_rows < 2:
        yield Predictions(0, iter(()))
        return
    field = table.schema.get_field_index(BLOCKING_KEYS_COLUMN)
    keys, blocked = _capped_blocks(table.column(field).combine_chunks())
    chunks = max(1, math.ceil(blocked / BLOCKED_PAIRS_PER_CHUNK))
    progress.begin(Step.SCORED, blocked)
    with tempfile.TemporaryDirectory(prefix="mpi-bulk-") as folder:
        files = [Path(folder) / f"chunk-{chunk}.parquet" for chunk in range(1, chunks + 1)]
        # Each chunk's share of the blocked pairs, as it is scored.
        shares = [blocked // chunks + (i < blocked % chunks) for i in range(chunks)]
        blocked_table = table.set_column(field, SCHEMA.field(field), keys)
        for share in _score(blocked_table, artifact, tfs, files, shares):
            progress.advance(Step.SCORED, share)
        count = sum(pq.ParquetFile(file).metadata.num_rows for file in files)
        yield Predictions(count, _by_record(files))


def _score(
    table: pa.Table,
    artifact: ModelArtifact,
    tfs: dict[str, dict[str, float]],
    files: list[Path],
    shares: list[int],
) -> Iterator[int]:
    """Score the pairs in as many chunks as `files`, each chunk's into its file: the scores
    only, ordered by later and earlier record; yields each chunk's share once it is written.
    The compared values, the blocked pairs and the rest of Splink's tables go with the DuckDB
    connection."""
    with duckdb.connect() as connection:
        db_api = DuckDBAPI(connection=connection)
        linker = Linker(db_api.register(table), dict(artifact.splink))
        for column in TF_COLUMNS:
            lookup = pa.table(
                {column: list(tfs[column]), f"tf_{column}": list(tfs[column].values())},
                schema=pa.schema([(column, pa.string()), (f"tf_{column}", pa.float64())]),
            )
            linker.table_management.register_term_frequency_lookup(db_api.register(lookup), column)
        for chunk, (file, share) in enumerate(zip(files, shares, strict=True), start=1):
            predictions = linker.inference.predict_chunk(
                left_chunk=(chunk, len(files)),
                right_chunk=(1, 1),
                threshold_match_probability=artifact.thresholds.reject or None,
                warning_mode="never",
            )
            columns = score_columns(c.unquote().name for c in predictions.columns)
            left, right = "CAST(unique_id_l AS BIGINT)", "CAST(unique_id_r AS BIGINT)"
            connection.sql(
                f"SELECT {', '.join(columns)}, greatest({left}, {right}) AS {_LATER}, "
                f"least({left}, {right}) AS {_EARLIER} FROM {predictions.physical_name} "
                f"ORDER BY {_LATER}, {_EARLIER}"
            ).write_parquet(str(file))
            predictions.drop_table_from_database_and_remove_from_cache()
            yield share


def _by_record(files: list[Path]) -> Iterator[RecordPairs]:
    chunks = [_rows(file) for file in files]
    rows = heapq.merge(*chunks, key=lambda row: (row[_LATER], row[_EARLIER]))
    for later, group in itertools.groupby(rows, key=lambda row: row[_LATER]):
        yield later, [(row[_EARLIER], row) for row in group]


def _rows(file: Path) -> Iterator[dict[str, Any]]:
    for batch in pq.ParquetFile(file).iter_batches(PAIR_BATCH):
        yield from batch.to_pylist()


def _capped_blocks(keys: pa.ListArray) -> tuple[pa.ListArray, int]:
    """Each record's blocking keys less those shared by more than MAX_BLOCK_SIZE records, and
    the pairs the blocks left give (a pair once per key it shares)."""
    flat = keys.flatten()
    sizes = pc.value_counts(flat)
    counts = sizes.field("counts")
    large = sizes.field("values").filter(pc.greater(counts, MAX_BLOCK_SIZE))
    small = counts.filter(pc.less_equal(counts, MAX_BLOCK_SIZE))
    pairs = pc.sum(pc.multiply(small, pc.subtract(small, 1))).as_py() or 0
    kept = pc.invert(pc.is_in(flat, value_set=large))
    # A record's new offset is the number of kept keys before its first one.
    before = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(kept.cast(pa.int64()))])
    offsets = pc.take(before, pc.subtract(keys.offsets, keys.offsets[0]))
    capped = pa.ListArray.from_arrays(
        offsets.cast(pa.int32()), flat.filter(kept), type=SCHEMA.field(BLOCKING_KEYS_COLUMN).type
    )
    return capped, pairs // 2
