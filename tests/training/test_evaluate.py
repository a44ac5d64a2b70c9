"""Hand-worked clusterings scored by the evaluation harness."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mpi_store.domain.errors import InvalidInput
from mpi_training.evaluate import breakdown, evaluate, evaluate_files

# Patient A has 3 records, B has 2, C has 1: 3 + 1 = 4 true pairs.
TRUTH = {
    ("f1", "a1"): "A",
    ("f2", "a2"): "A",
    ("f3", "a3"): "A",
    ("f1", "b1"): "B",
    ("f2", "b2"): "B",
    ("f3", "c1"): "C",
}


def test_ground_truth_scores_perfectly():
    m = evaluate(TRUTH, dict(TRUTH))
    assert m["true_pairs"] == m["predicted_pairs"] == m["true_positive_pairs"] == 4
    assert m["pairwise_f1"] == m["bcubed_f1"] == 1.0
    assert m["split_patients"] == m["impure_clusters"] == 0
    assert m["completeness"] == m["completeness_multi_record"] == m["exact_patient_rate"] == 1.0


def test_singletons_find_nothing_and_merge_nothing():
    m = evaluate(TRUTH, {key: f"{key[0]}/{key[1]}" for key in TRUTH})
    assert m["predicted_pairs"] == 0
    assert m["pairwise_precision"] == 1.0
    assert m["pairwise_recall"] == 0.0
    assert m["pairwise_f1"] == 0.0
    assert m["split_patients"] == 2  # A and B; C has a single record
    assert m["completeness"] == pytest.approx(1 / 3)  # only C
    assert m["completeness_multi_record"] == 0.0
    assert m["exact_patient_rate"] == 0.0
    assert m["bcubed_precision"] == 1.0
    # Recall per record: A's three get 1/3, B's two get 1/2, C gets 1.
    assert m["bcubed_recall"] == pytest.approx((3 * (1 / 3) + 2 * (1 / 2) + 1) / 6)


def test_one_big_cluster_finds_everything_and_is_impure():
    m = evaluate(TRUTH, dict.fromkeys(TRUTH, "X"))
    assert m["predicted_pairs"] == 15
    assert m["pairwise_precision"] == pytest.approx(4 / 15)
    assert m["pairwise_recall"] == 1.0
    assert m["impure_clusters"] == 1
    assert m["split_patients"] == 0
    assert m["completeness"] == 1.0
    assert m["exact_patient_rate"] == 0.0
    assert m["purity"] == 0.0
    assert m["bcubed_precision"] == pytest.approx((3 * 3 / 6 + 2 * 2 / 6 + 1 / 6) / 6)
    assert m["bcubed_recall"] == 1.0


def test_split_patient_counts_closure_pairs():
    pred = dict(TRUTH)
    pred[("f3", "a3")] = "A-split"
    m = evaluate(TRUTH, pred)
    assert m["true_positive_pairs"] == 2  # a1-a2 and b1-b2
    assert m["pairwise_precision"] == 1.0
    assert m["pairwise_recall"] == pytest.approx(2 / 4)
    assert m["split_patients"] == 1
    assert m["completeness_multi_record"] == pytest.approx(1 / 2)
    assert m["exact_patient_rate"] == pytest.approx(1 / 2)


def test_over_merge_of_two_patients():
    pred = dict(TRUTH)
    pred[("f1", "b1")] = pred[("f2", "b2")] = "A"
    m = evaluate(TRUTH, pred)
    # Closure of {a1,a2,a3,b1,b2}: 10 pairs, 4 of them true.
    assert m["predicted_pairs"] == 10
    assert m["pairwise_precision"] == pytest.approx(4 / 10)
    assert m["pairwise_recall"] == 1.0
    assert m["impure_clusters"] == 1
    assert m["split_patients"] == 0
    assert m["exact_patient_rate"] == 0.0
    assert m["completeness_multi_record"] == 1.0


def test_chain_through_a_third_record_counts_the_indirect_pair():
    # Two direct edges a1-a2 and a2-a3 make one cluster: a1-a3 is a true positive too.
    truth = {("f", "1"): "A", ("f", "2"): "A", ("f", "3"): "A"}
    m = evaluate(truth, dict.fromkeys(truth, "c"))
    assert m["true_positive_pairs"] == 3


def test_unpredicted_records_are_singletons():
    m = evaluate(TRUTH, {("f1", "a1"): "A", ("f2", "a2"): "A"})
    assert m["unpredicted_records"] == 4
    assert m["true_positive_pairs"] == 1


def test_breakdown_averages_bcubed_over_group_members():
    pred = dict(TRUTH)
    pred[("f3", "a3")] = "A-split"
    groups = {"LLM": [("f3", "a3")], "AUTO": [("f1", "a1"), ("f1", "b1")]}
    out = breakdown(TRUTH, pred, groups)
    assert out["LLM"]["records"] == 1
    assert out["LLM"]["bcubed_recall"] == pytest.approx(1 / 3)
    assert out["AUTO"]["bcubed_recall"] == pytest.approx((2 / 3 + 1) / 2)


def test_evaluate_files_reads_parquet_csv_links_and_error_log(tmp_path):
    rows = [
        {"source": s, "source_record_id": r, "patient_id": p, "confusable_relation": None}
        for (s, r), p in TRUTH.items()
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "truth.parquet")
    lines = ["source,source_record_id,mpi_id"] + [f"{s},{r},{p}" for (s, r), p in TRUTH.items()]
    (tmp_path / "pred.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    links = [{"source": s, "source_record_id": r, "link_source": "AUTO"} for s, r in TRUTH]
    pq.write_table(pa.Table.from_pylist(links), tmp_path / "links.parquet")
    log = {"source": "f1", "source_record_id": "a1", "error_type": "name_typo"}
    (tmp_path / "error_log.jsonl").write_text(json.dumps(log) + "\n", encoding="utf-8")
    result = evaluate_files(
        tmp_path / "truth.parquet",
        tmp_path / "pred.csv",
        links_path=tmp_path / "links.parquet",
        error_log_path=tmp_path / "error_log.jsonl",
    )
    assert result["overall"]["pairwise_f1"] == 1.0
    assert result["by_link_source"]["AUTO"]["records"] == 6
    assert result["by_error_type"]["name_typo"]["records"] == 1
    assert result["by_error_type"]["none"]["records"] == 5


@pytest.mark.parametrize(
    ("pred_header", "named"), [("source,source_record_id,cluster", "cluster_id or mpi_id")]
)
def test_mpi_eval_with_a_wrong_column_says_so_in_one_line(tmp_path, pred_header, named):
    truth = tmp_path / "truth.csv"
    truth.write_text("source,source_record_id,patient_id\nf1,a1,A\n")
    pred = tmp_path / "pred.csv"
    pred.write_text(f"{pred_header}\nf1,a1,X\n")

    run = subprocess.run(
        [sys.executable, "-m", "mpi_api.cli", "eval", "--truth", str(truth), "--pred", str(pred)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 2
    assert named in run.stderr
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_a_truth_file_without_patient_id_is_named(tmp_path):
    truth = tmp_path / "truth.csv"
    truth.write_text("source,source_record_id,patient\nf1,a1,A\n")

    with pytest.raises(InvalidInput, match="patient_id"):
        evaluate_files(truth, truth)
