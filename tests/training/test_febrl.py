"""FEBRL benchmarks load into our layout with the published record and entity counts."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from mpi_training.febrl import load_febrl, write_febrl


@pytest.mark.parametrize(
    ("dataset", "records", "entities", "sources"),
    [("febrl1", 1000, 500, 1), ("febrl4", 10_000, 5000, 2)],
)
def test_counts(dataset, records, entities, sources):
    rows, truth = load_febrl(dataset)
    assert len(rows) == len(truth) == records
    assert len({t["patient_id"] for t in truth}) == entities
    assert len({r["source"] for r in rows}) == sources


def test_febrl4_pairs_every_original_with_its_duplicate():
    _, truth = load_febrl("febrl4")
    by_entity = {}
    for t in truth:
        by_entity.setdefault(t["patient_id"], set()).add(t["source"])
    assert all(sources == {"febrl4a", "febrl4b"} for sources in by_entity.values())


def test_written_layout_keeps_nulls_and_string_postcodes(tmp_path):
    manifest = write_febrl("febrl1", tmp_path)
    assert manifest["counts"] == {"records": 1000, "patients": 500, "sources": 1}
    table = pq.read_table(tmp_path / "records.parquet")
    assert table.schema.field("postcode").type == "string"
    rows = table.to_pylist()
    assert any(r["birth_date"] is None for r in rows)
    assert not any(v in ("nan", "None", "") for r in rows for v in r.values())
    assert pq.read_table(tmp_path / "events.parquet").num_rows == 0
