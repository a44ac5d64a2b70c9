"""Arrow tables of linker features, as Splink takes them, from records or parquet files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mpi_linker.features import FEATURE_COLUMNS, blocking_keys, features
from mpi_linker.model.definition import BLOCKING_KEYS_COLUMN

SCHEMA = pa.schema(
    [
        ("unique_id", pa.string()),
        *[
            (c, pa.list_(pa.string()) if c == "given_aliases" else pa.string())
            for c in FEATURE_COLUMNS
        ],
        (BLOCKING_KEYS_COLUMN, pa.list_(pa.string())),
    ]
)


RECORD_KEY_SEPARATOR = "\x1f"


def record_key(source: str, source_record_id: str) -> str:
    return f"{source}{RECORD_KEY_SEPARATOR}{source_record_id}"


def feature_row(unique_id: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {"unique_id": unique_id, **row, BLOCKING_KEYS_COLUMN: blocking_keys(row)}


def frame(records: Iterable[Mapping[str, Any]]) -> pa.Table:
    """One row per record (contract field names, `source` and `source_record_id` included)."""
    rows = [
        feature_row(record_key(r["source"], r["source_record_id"]), features(r)) for r in records
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def frame_of_features(rows: Iterable[tuple[str, Mapping[str, Any]]]) -> pa.Table:
    """From already normalised features (the linker index), keyed by their unique id."""
    return pa.Table.from_pylist([feature_row(key, f) for key, f in rows], schema=SCHEMA)


def read_records(data_dir: Path) -> list[dict[str, Any]]:
    return list(pq.read_table(data_dir / "records.parquet").to_pylist())


def read_truth(data_dir: Path) -> dict[str, str]:
    """Record key -> true patient id."""
    table = pq.read_table(
        data_dir / "truth.parquet", columns=["source", "source_record_id", "patient_id"]
    )
    return {
        record_key(r["source"], r["source_record_id"]): r["patient_id"] for r in table.to_pylist()
    }
