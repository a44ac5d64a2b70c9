"""Blocking recall with and without history keys, and what the keys cost per record.

For each dataset folder (records, events, truth): the share of true record pairs sharing at
least one blocking key (demographic keys only, then with history keys), candidate pairs per
record, the pairs history keys add, and index keys per record. Blocks of more than 200 records
are left out, as the bulk load's batch predict and the online candidate search leave them out
(`mpi_linker.features.MAX_BLOCK_SIZE`); the recall over every block is reported beside it.

`--background N` also searches each record online, as the linker does, among N synthetic
stored records (`population.py`) and the folder's earlier records: its 200 candidates sharing
the most keys, with every key (the search before 2026-12-04) and with the generic keys left
out (held by MAX_BLOCK_SIZE stored records or more: the search now). It reports the share of
true pairs whose earlier record is among the later one's candidates.

`--sweep` fits the rarity table on the (training) folder given and tries band / row / rarity
parameters on it: the way the shipped parameters were chosen. Never sweep on data/eval.

Usage: .venv/bin/python benchmarks/blocking_recall.py --data data/eval --data data/fixture
       .venv/bin/python benchmarks/blocking_recall.py --data data/eval --background 1000000
       .venv/bin/python benchmarks/blocking_recall.py --sweep --data /tmp/train
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import itertools
import json
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from mpi_linker.features import MAX_BLOCK_SIZE, blocking_keys, features
from mpi_linker.frames import read_events, read_records, read_truth, record_key
from mpi_linker.history_keys import HistoryParameters, Rarity, history_keys, shipped_rarity

sys.path.insert(0, str(Path(__file__).parent))
from population import name_pools, person
from report import report

EVALUATION_SEED = 67890
MAX_CANDIDATES = 200  # the linker's default cap (mpi_linker.settings)


def _pairs(keys: Sequence[Iterable[str]], *, cap: int | None) -> np.ndarray:
    """Distinct candidate pairs (i * n + j, i < j) of records sharing a key."""
    n = len(keys)
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, record_keys in enumerate(keys):
        for key in record_keys:
            blocks[key].append(i)
    codes = [np.empty(0, dtype=np.int64)]
    for members in blocks.values():
        if len(members) < 2 or (cap is not None and len(members) > cap):
            continue
        ids = np.asarray(members, dtype=np.int64)
        left, right = np.triu_indices(len(ids), k=1)
        codes.append(ids[left] * n + ids[right])
    return np.unique(np.concatenate(codes))


def _true_pairs(record_ids: Sequence[str], truth: Mapping[str, str]) -> np.ndarray:
    n = len(record_ids)
    by_patient: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(record_ids):
        by_patient[truth[key]].append(i)
    codes = [
        a * n + b for members in by_patient.values() for a, b in itertools.combinations(members, 2)
    ]
    return np.unique(np.asarray(codes, dtype=np.int64))


@dataclass(frozen=True)
class Dataset:
    name: str
    ids: list[str]
    events: dict[str, list[dict[str, Any]]]
    demographic: list[list[str]]
    true: np.ndarray
    demographic_pairs: dict[int | None, np.ndarray]


def load(data: Path, patients: Callable[[str], bool] | None = None) -> Dataset:
    """The folder's records (those of the patients `patients` keeps, if given)."""
    truth = read_truth(data)
    records = [
        r
        for r in read_records(data)
        if patients is None or patients(truth[record_key(r["source"], r["source_record_id"])])
    ]
    ids = [record_key(r["source"], r["source_record_id"]) for r in records]
    demographic = [blocking_keys(features(r)) for r in records]
    return Dataset(
        name=data.name if patients is None else f"{data.name} (held-out half)",
        ids=ids,
        events=read_events(data),
        demographic=demographic,
        true=_true_pairs(ids, truth),
        demographic_pairs={cap: _pairs(demographic, cap=cap) for cap in (MAX_BLOCK_SIZE, None)},
    )


def measure(
    data: Dataset, keys_of: Callable[[list[dict[str, Any]]], list[str]] | None = None
) -> dict[str, Any]:
    """One dataset's row; `keys_of` (a record's events -> history keys) defaults to the
    shipped table and parameters."""
    history = keys_of or history_keys
    hist = [history(data.events.get(key, [])) for key in data.ids]
    combined = [sorted({*d, *h}) for d, h in zip(data.demographic, hist, strict=True)]
    true, n = data.true, len(data.ids)
    row: dict[str, Any] = {"dataset": data.name, "records": n, "true_pairs": int(true.size)}
    for capped, cap in (("", MAX_BLOCK_SIZE), ("_all_blocks", None)):
        for name, pairs in (
            ("demographic", data.demographic_pairs[cap]),
            ("with_history", _pairs(combined, cap=cap)),
        ):
            found = np.isin(true, pairs, assume_unique=True).sum()
            row[f"recall_{name}{capped}"] = round(float(found / max(true.size, 1)), 4)
            row[f"pairs_per_record_{name}{capped}"] = round(pairs.size / n, 2)
    row["added_pairs_per_record"] = round(
        row["pairs_per_record_with_history"] - row["pairs_per_record_demographic"], 2
    )
    history_only = _pairs(hist, cap=MAX_BLOCK_SIZE)
    row["true_pairs_history_keys_find"] = round(
        float(np.isin(true, history_only, assume_unique=True).sum() / max(true.size, 1)), 4
    )
    row["keys_per_record_demographic"] = round(sum(map(len, data.demographic)) / n, 2)
    row["keys_per_record_history"] = round(sum(map(len, hist)) / n, 2)
    row["records_with_history_keys"] = round(sum(1 for h in hist if h) / n, 4)
    sizes: dict[str, int] = defaultdict(int)
    for h in hist:
        for key in h:
            sizes[key] += 1
    row["largest_history_block"] = max(sizes.values(), default=0)
    return row


def background_keys(count: int) -> list[list[str]]:
    """Blocking keys of `count` synthetic stored records (no clinical history)."""
    rng = random.Random(1)
    given, family = name_pools()
    return [
        blocking_keys(features(person(rng, given, family, "SEED", str(i)))) for i in range(count)
    ]


def online(data: Dataset, background: list[list[str]]) -> dict[str, Any]:
    """The folder's records in file order, each searched among the records stored before it
    (the background first) and then stored, as the linker does; every key, then without the
    generic ones. Recall: true pairs whose earlier record the later one finds."""
    hist = [history_keys(data.events.get(key, [])) for key in data.ids]
    keys = [sorted({*d, *h}) for d, h in zip(data.demographic, hist, strict=True)]
    n = len(data.ids)
    earlier: dict[int, list[int]] = defaultdict(list)
    for code in data.true.tolist():
        earlier[code % n].append(code // n)
    postings: dict[str, list[int]] = defaultdict(list)
    for stored, record_keys in enumerate(background):
        for key in record_keys:
            postings[key].append(stored)
    offset = len(background)
    found = {"every_key": 0, "specific_keys": 0}
    candidates = dict.fromkeys(found, 0)
    capped = dict.fromkeys(found, 0)
    left_out = 0
    for j, record_keys in enumerate(keys):
        specific = [k for k in record_keys if len(postings.get(k, ())) < MAX_BLOCK_SIZE]
        left_out += len(record_keys) - len(specific)
        for mode, used in (("every_key", record_keys), ("specific_keys", specific)):
            shared: Counter[int] = Counter()
            for key in used:
                shared.update(postings.get(key, ()))
            # The index's order: most shared keys first, then the earliest stored.
            kept = heapq.nsmallest(MAX_CANDIDATES, shared.items(), key=lambda c: (-c[1], c[0]))
            chosen = {record for record, _ in kept}
            found[mode] += sum(1 for i in earlier.get(j, ()) if offset + i in chosen)
            candidates[mode] += len(kept)
            capped[mode] += len(shared) > MAX_CANDIDATES
        for key in record_keys:
            postings[key].append(offset + j)
    true = max(data.true.size, 1)
    row: dict[str, Any] = {
        "dataset": data.name,
        "stored_before": f"{offset:,} + earlier",
        "generic_keys_per_record": round(left_out / n, 2),
    }
    for mode in found:
        row[f"online_recall_{mode}"] = round(found[mode] / true, 4)
        row[f"candidates_per_record_{mode}"] = round(candidates[mode] / n, 1)
        row[f"cap_hits_{mode}"] = round(capped[mode] / n, 4)
    return row


ONLINE_COLUMNS = {
    "dataset": "dataset",
    "stored": "stored_before",
    "recall, every key": "online_recall_every_key",
    "recall, generic keys left out": "online_recall_specific_keys",
    "candidates/record, every key": "candidates_per_record_every_key",
    "candidates/record, left out": "candidates_per_record_specific_keys",
    "cap hits, every key": "cap_hits_every_key",
    "cap hits, left out": "cap_hits_specific_keys",
    "generic keys/record": "generic_keys_per_record",
}


COLUMNS = {
    "dataset": "dataset",
    "records": "records",
    "true pairs": "true_pairs",
    "recall, demographic keys": "recall_demographic",
    "recall, + history keys": "recall_with_history",
    "pairs/record, demographic": "pairs_per_record_demographic",
    "pairs/record, + history": "pairs_per_record_with_history",
    "added pairs/record": "added_pairs_per_record",
    "index keys/record, demographic": "keys_per_record_demographic",
    "index keys/record, history": "keys_per_record_history",
    "records with history keys": "records_with_history_keys",
    "largest history block": "largest_history_block",
}


def _seed(data: Path) -> int | None:
    manifest = data / "manifest.json"
    if not manifest.exists():
        return None
    seed = json.loads(manifest.read_text()).get("seed")
    return int(seed) if seed is not None else None


def _grid() -> Iterator[HistoryParameters]:
    for max_share, max_pair_share, max_keys in itertools.product(
        (0.1, 0.2, 0.3), (0.001, 0.003, 0.01, 0.03), (20, 50)
    ):
        yield HistoryParameters("pairs", max_share, max_pair_share, max_keys)
    for max_share, (bands, rows) in itertools.product((0.02, 0.05, 0.1), ((20, 1), (20, 2))):
        yield HistoryParameters("minhash", max_share, bands=bands, rows=rows)


def _half(patient: str) -> bool:
    return hashlib.sha256(patient.encode()).digest()[0] % 2 == 0


def sweep(folder: Path) -> list[dict[str, Any]]:
    """Fit the rarity table on half of `folder`'s patients and measure each parameter set on
    the other half (fitted and measured on the same records, the common-pair list would hide
    exactly the pairs that the true matches share)."""
    if _seed(folder) == EVALUATION_SEED:
        raise typer.BadParameter(f"{folder} is the evaluation set: never sweep on it")
    fitted = load(folder, _half)
    data = load(folder, lambda patient: not _half(patient))
    histories = [fitted.events.get(key, []) for key in fitted.ids]
    rows = []
    for params in _grid():
        rarity = Rarity.fit(histories, parameters=params)
        row = measure(data, lambda e, r=rarity: history_keys(e, r))
        rows.append({**params.__dict__, **row})
    return rows


SWEEP_COLUMNS = {
    "scheme": "scheme",
    "max share": "max_share",
    "max pair share": "max_pair_share",
    "max keys": "max_keys",
    "bands": "bands",
    "rows": "rows",
    "recall, demographic": "recall_demographic",
    "recall, + history": "recall_with_history",
    "history keys alone": "true_pairs_history_keys_find",
    "added pairs/record": "added_pairs_per_record",
    "history keys/record": "keys_per_record_history",
    "largest block": "largest_history_block",
}


def main(
    data: Annotated[list[Path], typer.Option(help="Dataset folders (records, events, truth)")],
    sweep_parameters: Annotated[
        bool, typer.Option("--sweep", help="Fit rarity on the (training) folder and sweep")
    ] = False,
    background: Annotated[
        int, typer.Option(help="Also search online among this many stored records")
    ] = 0,
    out: Annotated[Path, typer.Option()] = Path("benchmarks/results/blocking_recall.json"),
) -> None:
    if sweep_parameters:
        results = [row for folder in data for row in sweep(folder)]
        report("blocking_recall_sweep", "History-key parameters", SWEEP_COLUMNS, results, out)
        return
    rarity = shipped_rarity()
    results = [
        {**measure(load(folder)), "measured_at": dt.datetime.now(dt.UTC).date().isoformat()}
        for folder in data
    ]
    title = f"Blocking recall (history keys: {rarity.parameters}, fitted on {rarity.records})"
    report("blocking_recall", title, COLUMNS, results, out)
    if background:
        stored = background_keys(background)
        rows = [online(load(folder), stored) for folder in data]
        title = f"Online candidate search among {background:,} stored records"
        report(
            "blocking_recall_online",
            title,
            ONLINE_COLUMNS,
            rows,
            out.with_stem(out.stem + "_online"),
        )


if __name__ == "__main__":
    typer.run(main)
