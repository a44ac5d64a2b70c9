"""Scores of a classifier on known numbers: ROC-AUC, expected calibration error, the
reliability bins behind it, and the reliability plot."""

from __future__ import annotations

import pytest

from mpi_training.adjudication.metrics import ece
from mpi_training.train.calibration import plot_reliability, reliability, roc_auc, scores


def test_roc_auc_on_known_numbers():
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(0.75)
    assert roc_auc([0.9, 0.1], [True, False]) == 1.0
    assert roc_auc([0.2, 0.3], [True, True]) is None


def test_ece_on_known_numbers():
    # Two bins of two pairs: |0.1 - 0.5| and |0.9 - 1.0|, each half the pairs.
    assert ece([0.1, 0.1, 0.9, 0.9], [False, True, True, True]) == pytest.approx(0.25)
    assert ece([0.25] * 4, [True, False, False, False]) == pytest.approx(0.0)
    assert ece([0.9, 0.9], [False, False]) == pytest.approx(0.9)


def test_reliability_bins_are_the_ece_bins():
    probabilities = [0.05, 0.12, 0.3, 0.33, 0.5, 0.77, 0.91, 1.0, 0.99, 0.6]
    labels = [False, False, True, False, True, True, True, True, False, False]

    bins = reliability(probabilities, labels)

    assert sum(b.count for b in bins) == len(labels)
    assert [b.low for b in bins] == pytest.approx([0.0, 0.1, 0.3, 0.5, 0.6, 0.7, 0.9])
    last = bins[-1]
    assert (last.count, last.accuracy) == (3, pytest.approx(2 / 3))
    weighted = sum(b.count / len(labels) * abs(b.confidence - b.accuracy) for b in bins)
    assert weighted == pytest.approx(ece(probabilities, labels))


def test_scores_report_the_decision_at_one_half():
    result = scores([0.9, 0.8, 0.2, 0.6], [True, False, False, True])

    assert (result["pairs"], result["positives"]) == (4, 2)
    assert (result["precision"], result["recall"]) == (pytest.approx(0.6667), 1.0)
    assert result["f1"] == pytest.approx(0.8)
    assert result["roc_auc"] == pytest.approx(0.75)


def test_the_reliability_plot_is_a_png(tmp_path):
    out = tmp_path / "reliability.png"

    plot_reliability(
        {"model": ([0.1, 0.7, 0.9], [False, True, True]), "empty": ([], [])}, out, title="t"
    )

    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
