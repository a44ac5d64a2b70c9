"""Scores predicted clusters against true patients: pairwise over the closure, cluster, B-cubed."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from mpi_store.domain.errors import InvalidInput

RecordKey = tuple[str, str]
KEY_COLUMNS = ("source", "source_record_id")
CLUSTER_COLUMNS = ("cluster_id", "mpi_id")


def _ratio(num: float, den: float) -> float:
    # An empty denominator means nothing could go wrong (no predicted pairs: no false merges).
    return num / den if den else 1.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def evaluate(truth: Mapping[RecordKey, str], pred: Mapping[RecordKey, str]) -> dict[str, Any]:
    """Metrics over the records in `truth`; a record missing from `pred` is its own cluster.

    Pairwise P/R/F1 count every pair of records that share a predicted cluster (the transitive
    closure), not only the pairs a linker scored directly as ClinFuse did.
    """
    assigned = {key: pred.get(key, f"__unpredicted__:{key[0]}:{key[1]}") for key in truth}
    cell = Counter((assigned[key], patient) for key, patient in truth.items())
    cluster_size = Counter(assigned.values())
    patient_size = Counter(truth.values())

    true_positive = sum(_pairs(n) for n in cell.values())
    predicted_pairs = sum(_pairs(n) for n in cluster_size.values())
    true_pairs = sum(_pairs(n) for n in patient_size.values())
    precision = _ratio(true_positive, predicted_pairs)
    recall = _ratio(true_positive, true_pairs)

    clusters_of: dict[str, set[str]] = defaultdict(set)
    patients_in: dict[str, set[str]] = defaultdict(set)
    for cluster, patient in cell:
        clusters_of[patient].add(cluster)
        patients_in[cluster].add(patient)
    complete = {p for p, cs in clusters_of.items() if len(cs) == 1}
    multi = {p for p, n in patient_size.items() if n > 1}
    exact = {
        p for p in multi if p in complete and len(patients_in[next(iter(clusters_of[p]))]) == 1
    }
    impure = {c for c, ps in patients_in.items() if len(ps) > 1}
    bcubed = _bcubed(truth, assigned, cell, cluster_size, patient_size)
    return {
        "records": len(truth),
        "patients": len(patient_size),
        "multi_record_patients": len(multi),
        "clusters": len(cluster_size),
        "unpredicted_records": sum(1 for key in truth if key not in pred),
        "true_pairs": true_pairs,
        "predicted_pairs": predicted_pairs,
        "true_positive_pairs": true_positive,
        "false_positive_pairs": predicted_pairs - true_positive,
        "false_negative_pairs": true_pairs - true_positive,
        "pairwise_precision": precision,
        "pairwise_recall": recall,
        "pairwise_f1": _f1(precision, recall),
        "split_patients": len(clusters_of) - len(complete),
        "impure_clusters": len(impure),
        "purity": _ratio(sum(cluster_size[c] for c in cluster_size if c not in impure), len(truth)),
        "completeness": _ratio(len(complete), len(patient_size)),
        "completeness_multi_record": _ratio(len(complete & multi), len(multi)),
        "exact_patient_rate": _ratio(len(exact), len(multi)),
        "bcubed_precision": bcubed[0],
        "bcubed_recall": bcubed[1],
        "bcubed_f1": _f1(*bcubed),
    }


def _bcubed(
    truth: Mapping[RecordKey, str],
    assigned: Mapping[RecordKey, str],
    cell: Mapping[tuple[str, str], int],
    cluster_size: Mapping[str, int],
    patient_size: Mapping[str, int],
    subset: Iterable[RecordKey] | None = None,
) -> tuple[float, float]:
    keys = list(truth if subset is None else subset)
    if not keys:
        return 1.0, 1.0
    precision = recall = 0.0
    for key in keys:
        cluster, patient = assigned[key], truth[key]
        shared = cell[(cluster, patient)]
        precision += shared / cluster_size[cluster]
        recall += shared / patient_size[patient]
    return precision / len(keys), recall / len(keys)


def breakdown(
    truth: Mapping[RecordKey, str],
    pred: Mapping[RecordKey, str],
    groups: Mapping[str, Iterable[RecordKey]],
) -> dict[str, dict[str, float]]:
    """B-cubed precision/recall averaged over the records of each group (a record may be in many).

    B-cubed is per record, so it splits cleanly: a group's precision says how much of its
    records' clusters is the right patient, its recall how much of their patient they reach.
    """
    assigned = {key: pred.get(key, f"__unpredicted__:{key[0]}:{key[1]}") for key in truth}
    cell = Counter((assigned[key], patient) for key, patient in truth.items())
    cluster_size = Counter(assigned.values())
    patient_size = Counter(truth.values())
    out: dict[str, dict[str, float]] = {}
    for name in sorted(groups):
        members = [key for key in dict.fromkeys(groups[name]) if key in truth]
        p, r = _bcubed(truth, assigned, cell, cluster_size, patient_size, members)
        out[name] = {
            "records": len(members),
            "bcubed_precision": p,
            "bcubed_recall": r,
            "bcubed_f1": _f1(p, r),
        }
    return out


def _read_rows(path: Path, required: Iterable[str] = KEY_COLUMNS) -> list[dict[str, Any]]:
    """The file's rows; a missing file or column is the user's to fix (`InvalidInput`)."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    rows: list[dict[str, Any]]
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows, columns = list(reader), list(reader.fieldnames or [])
    else:
        table = pq.read_table(path)
        rows, columns = table.to_pylist(), table.column_names
    missing = [column for column in required if column not in columns]
    if missing:
        raise InvalidInput(f"{path} has no column {', '.join(missing)}")
    return rows


def load_truth(path: Path) -> tuple[dict[RecordKey, str], dict[str, list[RecordKey]]]:
    """Record -> patient, and the records of each confusable relation (hard negatives)."""
    truth: dict[RecordKey, str] = {}
    relations: dict[str, list[RecordKey]] = defaultdict(list)
    for row in _read_rows(path, (*KEY_COLUMNS, "patient_id")):
        key = (str(row["source"]), str(row["source_record_id"]))
        truth[key] = str(row["patient_id"])
        if row.get("confusable_relation"):
            relations[str(row["confusable_relation"])].append(key)
    return truth, dict(relations)


def load_clusters(path: Path) -> dict[RecordKey, str]:
    rows = _read_rows(path)
    if not rows:
        return {}
    column = next((c for c in CLUSTER_COLUMNS if c in rows[0]), None)
    if column is None:
        raise InvalidInput(f"{path} needs a cluster_id or mpi_id column")
    return {(str(r["source"]), str(r["source_record_id"])): str(r[column]) for r in rows}


def load_link_sources(path: Path) -> dict[str, list[RecordKey]]:
    groups: dict[str, list[RecordKey]] = defaultdict(list)
    for row in _read_rows(path):
        groups[str(row.get("link_source") or "NONE")].append(
            (str(row["source"]), str(row["source_record_id"]))
        )
    return dict(groups)


def load_error_types(path: Path, truth: Iterable[RecordKey]) -> dict[str, list[RecordKey]]:
    """Records per error type found in `error_log.jsonl`; records with none under "none"."""
    groups: dict[str, list[RecordKey]] = defaultdict(list)
    touched: set[RecordKey] = set()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            entry = json.loads(line)
            key = (entry["source"], entry["source_record_id"])
            groups[entry["error_type"]].append(key)
            touched.add(key)
    groups["none"] = [key for key in truth if key not in touched]
    return dict(groups)


def evaluate_files(
    truth_path: Path,
    pred_path: Path,
    *,
    links_path: Path | None = None,
    error_log_path: Path | None = None,
) -> dict[str, Any]:
    truth, relations = load_truth(truth_path)
    pred = load_clusters(pred_path)
    result: dict[str, Any] = {"overall": evaluate(truth, pred)}
    if relations:
        result["by_confusable_relation"] = breakdown(truth, pred, relations)
    if links_path is not None:
        result["by_link_source"] = breakdown(truth, pred, load_link_sources(links_path))
    if error_log_path is not None and error_log_path.exists():
        result["by_error_type"] = breakdown(truth, pred, load_error_types(error_log_path, truth))
    return result
