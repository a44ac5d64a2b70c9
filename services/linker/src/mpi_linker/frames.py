"""Arrow tables of linker features, as Splink takes them, from records or parquet files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mpi_linker.features import FEATURE_COLUMNS, RECORD_KEY_SEPARATOR, blocking_keys, features
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


def record_key(source: str, source_record_id: str) -> str:
    return f"{source}{RECORD_KEY_SEPARATOR}{source_record_id}"


# The events.parquet columns history keys read.
EVENT_COLUMNS = ("source", "source_record_id", "type", "code_system", "code")
Events = Mapping[str, Sequence[Mapping[str, Any]]]


def feature_row(
    unique_id: str, row: Mapping[str, Any], events: Iterable[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    return {"unique_id": unique_id, **row, BLOCKING_KEYS_COLUMN: blocking_keys(row, events)}


def frame(records: Iterable[Mapping[str, Any]], events: Events | None = None) -> pa.Table:
    """One row per record (contract field names, `source` and `source_record_id` included).

    `events` (record key -> its clinical events, `read_events`) add the history keys, as the
    api adds them to the online index; without them the frame has demographic keys only.
    """
    by_record = events or {}
    rows = []
    for r in records:
        key = record_key(r["source"], r["source_record_id"])
        rows.append(feature_row(key, features(r), by_record.get(key)))
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def frame_of_features(
    rows: Iterable[tuple[str, Mapping[str, Any]]],
    extra_keys: Mapping[str, Sequence[str]] | None = None,
) -> pa.Table:
    """From already normalised features (the linker index), keyed by their unique id;
    `extra_keys` are keys stored beside them that features alone cannot give (history keys)."""
    extra = extra_keys or {}
    table = []
    for key, f in rows:
        row = feature_row(key, f)
        if extra.get(key):
            row[BLOCKING_KEYS_COLUMN] = sorted({*row[BLOCKING_KEYS_COLUMN], *extra[key]})
        table.append(row)
    return pa.Table.from_pylist(table, schema=SCHEMA)


def read_records(data_dir: Path) -> list[dict[str, Any]]:
    return list(pq.read_table(data_dir / "records.parquet").to_pylist())


def read_events(data_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Record key -> its clinical events (the columns history keys read); empty without an
    events.parquet."""
    path = data_dir / "events.parquet"
    if not path.exists():
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    for row in pq.read_table(path, columns=list(EVENT_COLUMNS)).to_pylist():
        found.setdefault(record_key(row["source"], row["source_record_id"]), []).append(row)
    return found


def read_truth(data_dir: Path) -> dict[str, str]:
    """Record key -> true patient id."""
    table = pq.read_table(
        data_dir / "truth.parquet", columns=["source", "source_record_id", "patient_id"]
    )
    return {
        record_key(r["source"], r["source_record_id"]): r["patient_id"] for r in table.to_pylist()
    }
