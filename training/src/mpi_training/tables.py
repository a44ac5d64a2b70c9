"""Parquet layouts of records, events and truth, and their deterministic zstd writers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS

ERROR_LOG_FILE = "error_log.jsonl"
MANIFEST_FILE = "manifest.json"

KEY_FIELDS: tuple[str, str] = ("source", "source_record_id")

RECORD_SCHEMA = pa.schema(
    [pa.field(name, pa.string(), nullable=False) for name in KEY_FIELDS]
    + [
        pa.field(name, pa.date32() if name == "birth_date" else pa.string())
        for name in DEMOGRAPHIC_FIELDS
    ]
)

EVENT_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_record_id", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("code_system", pa.string()),
        pa.field("code", pa.string()),
        pa.field("display", pa.string()),
        pa.field("date", pa.date32()),
        pa.field("start", pa.date32()),
        pa.field("end", pa.date32()),
        # The contract's observation value is a number or a short text; parquet needs one
        # type per column, so the text form has its own.
        pa.field("value", pa.float64()),
        pa.field("value_text", pa.string()),
        pa.field("unit", pa.string()),
        pa.field("encounter_class", pa.string()),
    ]
)

TRUTH_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_record_id", pa.string(), nullable=False),
        pa.field("patient_id", pa.string(), nullable=False),
        pa.field("confusable_group", pa.string()),
        pa.field("confusable_relation", pa.string()),
    ]
)

DATE_COLUMNS = frozenset({"birth_date", "date", "start", "end"})
_WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 9,
    "use_dictionary": True,
    "write_statistics": True,
}


def _cell(name: str, value: Any) -> Any:
    if name in DATE_COLUMNS and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def to_table(rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    columns = {name: [_cell(name, row.get(name)) for row in rows] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)


def write_table(rows: Sequence[Mapping[str, Any]], schema: pa.Schema, path: Path) -> None:
    pq.write_table(to_table(rows, schema), path, **_WRITE_OPTIONS)


class StreamingWriter:
    """Appends rows to one parquet file in fixed-size row groups, so memory stays flat."""

    def __init__(self, path: Path, schema: pa.Schema, batch_rows: int = 100_000) -> None:
        self._schema = schema
        self._batch_rows = batch_rows
        self._rows: list[Mapping[str, Any]] = []
        self._writer = pq.ParquetWriter(path, schema, **_WRITE_OPTIONS)
        self.count = 0

    def extend(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self._rows.append(row)
            if len(self._rows) >= self._batch_rows:
                self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(to_table(self._rows, self._schema))
            self.count += len(self._rows)
            self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def __enter__(self) -> StreamingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def record_key(row: Mapping[str, Any]) -> tuple[str, str]:
    return (row["source"], row["source_record_id"])


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows as dicts, dates as `datetime.date`, nulls as None."""
    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows
