"""Dataset folders (`records.parquet` + `events.parquet`) read as record-contract payloads.

The layout the data generator writes; bulk load and replay both read it through here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS, clinical_payload, iso_date

RECORDS_FILE = "records.parquet"
EVENTS_FILE = "events.parquet"
TRUTH_FILE = "truth.parquet"

RecordKey = tuple[str, str]


# Event type -> (contract list, how the event columns map onto that item's date fields).
def record_payload(record: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "source": record["source"],
        "source_record_id": record["source_record_id"],
    }
    for field in DEMOGRAPHIC_FIELDS:
        payload[field] = iso_date(record.get(field))
    payload["clinical"] = clinical_payload(events)
    return payload


def iter_payloads(data_dir: Path) -> tuple[int, Iterator[dict[str, Any]]]:
    """How many records there are, and their payloads in file order, one record at a time
    (read a batch at a time: a million records as Python objects would take gigabytes)."""
    records = pq.ParquetFile(data_dir / RECORDS_FILE)
    events_path = data_dir / EVENTS_FILE
    events = (
        pq.read_table(events_path).sort_by(
            [("source", "ascending"), ("source_record_id", "ascending")]
        )
        if events_path.exists()
        else None
    )

    def generate() -> Iterator[dict[str, Any]]:
        spans: dict[RecordKey, tuple[int, int]] = {}
        if events is not None and events.num_rows:
            sources = events.column("source").to_pylist()
            ids = events.column("source_record_id").to_pylist()
            start = 0
            for i in range(1, len(ids) + 1):
                if i == len(ids) or (sources[i], ids[i]) != (sources[start], ids[start]):
                    spans[(sources[start], ids[start])] = (start, i - start)
                    start = i
        for batch in records.iter_batches():
            for record in batch.to_pylist():
                span = spans.get((record["source"], record["source_record_id"]))
                rows = events.slice(*span).to_pylist() if events is not None and span else []
                yield record_payload(record, rows)

    return records.metadata.num_rows, generate()
