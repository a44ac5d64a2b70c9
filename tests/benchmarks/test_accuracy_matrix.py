"""The accuracy matrix's stock Splink baseline and its dataset rows, on small data."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mpi_linker.model.artifact import load
from mpi_store.datasets import EVENTS_FILE, RECORDS_FILE, TRUTH_FILE
from mpi_training.evaluate import evaluate, load_truth

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import accuracy
import accuracy_matrix
import stock_splink

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "data" / "fixture"


@pytest.fixture(scope="module")
def fixture_records() -> list[dict]:
    return pq.read_table(FIXTURE / RECORDS_FILE).to_pylist()


def test_stock_baseline_links_the_fixture_and_clusters_every_record(fixture_records):
    truth, _ = load_truth(FIXTURE / TRUTH_FILE)
    baseline = stock_splink.fit_and_predict(fixture_records)
    clusters = baseline.clusters(0.5)
    assert set(clusters) == set(truth)
    metrics = evaluate(truth, clusters)
    assert metrics["pairwise_f1"] > 0.8
    threshold, best = stock_splink.best_threshold(baseline, truth, evaluate)
    assert 0 < threshold < 1
    assert best["pairwise_f1"] >= metrics["pairwise_f1"]


def test_stock_baseline_leaves_out_a_column_no_record_has(fixture_records):
    records = [{**r, "ssn": None} for r in fixture_records]
    baseline = stock_splink.fit_and_predict(records)
    assert baseline.left_out_columns == ["soc_sec_id"]
    assert baseline.pairs


def test_febrl_rows_have_no_ssn(tmp_path):
    row = next(r for r in accuracy_matrix.ROWS if r.name == "febrl3")
    folder = accuracy_matrix.prepare(row, tmp_path, None)
    records = pq.read_table(folder / RECORDS_FILE).to_pylist()
    assert len(records) == 5000
    assert all(r["ssn"] is None for r in records)
    assert len(load_truth(folder / TRUTH_FILE)[0]) == 5000


def test_without_history_keeps_the_records_and_drops_every_event(tmp_path):
    accuracy_matrix.drop_history(FIXTURE, tmp_path / "nohistory")
    assert pq.read_table(tmp_path / "nohistory" / EVENTS_FILE).num_rows == 0
    assert pq.read_table(FIXTURE / EVENTS_FILE).num_rows > 0
    assert pq.read_table(tmp_path / "nohistory" / RECORDS_FILE).equals(
        pq.read_table(FIXTURE / RECORDS_FILE)
    )


def test_a_preset_the_generator_lacks_is_reported_not_simulated(tmp_path):
    row = accuracy_matrix.Row("x", "generate", {"population": "eval", "preset": "no-such"})
    with pytest.raises(accuracy_matrix.RowUnavailable, match="no-such"):
        accuracy_matrix.prepare(row, tmp_path, None)
    assert not (tmp_path / "sims").exists()


def test_an_unfinished_simulation_cache_is_never_written(tmp_path):
    from mpi_training.corruption.config import PRESETS

    row = accuracy_matrix.Row(
        "x", "generate", {"population": "texas", "preset": next(iter(PRESETS))}
    )
    shared = tmp_path / "sims" / "texas" / "parts"
    shared.mkdir(parents=True)
    wanted = accuracy_matrix.POPULATIONS["texas"].patients
    with pytest.raises(accuracy_matrix.RowUnavailable, match=f"0 of {wanted}"):
        accuracy_matrix.prepare(row, tmp_path / "cache", tmp_path / "sims")
    assert list(shared.iterdir()) == []


def test_candidate_stats_of_the_shipped_model(fixture_records):
    truth, _ = load_truth(FIXTURE / TRUTH_FILE)
    stats = accuracy_matrix.candidate_stats(fixture_records, truth, load())
    assert 0.5 < stats["blocking_recall"] <= 1
    assert stats["true_pairs_in_candidates"] <= stats["true_pairs"]
    shares = stats["auto_share"] + stats["gray_share"] + stats["reject_share"]
    assert shares == pytest.approx(1)


def test_the_review_queue_is_joined_only_where_a_steward_would_join_it():
    pred = {("A", "1"): "m1", ("B", "1"): "m2", ("C", "1"): "m3", ("D", "1"): "m4"}

    joined = accuracy._joined(pred, [(("A", "1"), ("B", "1")), (("B", "1"), ("C", "1"))])

    assert len({joined[k] for k in [("A", "1"), ("B", "1"), ("C", "1")]}) == 1
    assert joined[("D", "1")] not in {joined[("A", "1")]}
