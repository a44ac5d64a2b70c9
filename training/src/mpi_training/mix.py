"""Mixes datasets generated from one simulated population: each patient's records come from one
of them, so a population holds every kind of feed at once without anyone appearing twice."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mpi_store.datasets import EVENTS_FILE, RECORDS_FILE, TRUTH_FILE
from mpi_training.tables import MANIFEST_FILE

_WRITE_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 9}


class MixError(ValueError):
    """The datasets do not describe one population."""


def _share(patient_id: str, count: int) -> int:
    # A stable hash (not Python's salted `hash`): the same mix every run.
    return int(hashlib.sha256(patient_id.encode()).hexdigest()[:8], 16) % count


def mix(datasets: Sequence[Path], out: Path) -> dict[str, Any]:
    """Write the mix to `out`; each patient is drawn, by a hash of its id, from one dataset."""
    if len(datasets) < 2:
        raise MixError("give at least two datasets to mix")
    truths = [pq.read_table(folder / TRUTH_FILE) for folder in datasets]
    patients = [set(t.column("patient_id").to_pylist()) for t in truths]
    if any(p != patients[0] for p in patients[1:]):
        raise MixError("the datasets hold different patients: generate them with one seed")
    out.mkdir(parents=True, exist_ok=True)
    kept_keys: set[tuple[str, str]] = set()
    tables: dict[str, list[pa.Table]] = {RECORDS_FILE: [], EVENTS_FILE: [], TRUTH_FILE: []}
    drawn: Counter[str] = Counter()
    for index, (folder, truth) in enumerate(zip(datasets, truths, strict=True)):
        mine = [_share(p, len(datasets)) == index for p in truth.column("patient_id").to_pylist()]
        chosen = truth.filter(pa.array(mine))
        keys = set(
            zip(chosen["source"].to_pylist(), chosen["source_record_id"].to_pylist(), strict=True)
        )
        kept_keys |= keys
        drawn[folder.name] = len(set(chosen.column("patient_id").to_pylist()))
        tables[TRUTH_FILE].append(chosen)
        for name in (RECORDS_FILE, EVENTS_FILE):
            table = pq.read_table(folder / name)
            tables[name].append(table.filter(_in_keys(table, keys)))
    for name, parts in tables.items():
        merged = pa.concat_tables(parts).sort_by(
            [("source", "ascending"), ("source_record_id", "ascending")]
        )
        pq.write_table(merged, out / name, **_WRITE_OPTIONS)
    manifest = {
        "generator": "mpi_training.mix",
        "command": "mpi data mix " + " ".join(str(d) for d in datasets) + " --out DIR",
        "mixed": [_manifest(folder) for folder in datasets],
        "counts": {
            "patients": sum(drawn.values()),
            "records": len(kept_keys),
            "patients_from": dict(drawn),
        },
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _in_keys(table: pa.Table, keys: set[tuple[str, str]]) -> pa.Array:
    joined = pc.binary_join_element_wise(table["source"], table["source_record_id"], "\x1f")
    return pc.is_in(joined, value_set=pa.array(sorted(f"{s}\x1f{r}" for s, r in keys)))


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST_FILE
    found: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return {
        "path": folder.name,
        "command": found.get("command"),
        "parameters": found.get("parameters"),
    }
