"""Gray pairs of a generated population and the overlap classifier fitted on them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mpi_classifier.backends.overlap import OverlapModel
from mpi_linker.model.artifact import load
from mpi_training.adjudication import cli
from mpi_training.adjudication.metrics import ece, quality
from mpi_training.adjudication.overlap import fit_overlap
from mpi_training.adjudication.pairs import gray_pairs

FIXTURE = Path(__file__).resolve().parents[3] / "data" / "fixture"


@pytest.fixture(scope="module")
def fixture_pairs():
    return gray_pairs(FIXTURE, load())


def test_gray_pairs_carry_truth_and_histories(fixture_pairs):
    pairs = fixture_pairs.pairs

    assert pairs
    assert any(p.is_match for p in pairs)
    assert not all(p.is_match for p in pairs)
    assert all(p.first < p.second for p in pairs)
    assert all(p.first in fixture_pairs.histories for p in pairs)
    thresholds = load().thresholds
    assert all(p.splink_probability >= thresholds.reject for p in pairs)


def test_fitted_model_round_trips_and_beats_chance(tmp_path):
    fitted = fit_overlap(FIXTURE, FIXTURE, load())
    path = tmp_path / "overlap.json"
    path.write_text(fitted.model.to_json())

    model = OverlapModel.from_json(path.read_text())

    assert model.version == fitted.model.version
    dev = fitted.report["dev"]
    assert dev["clusters"]["pairwise_f1"] >= dev["splink_only_clusters"]["pairwise_f1"]
    assert 0 < model.fusion.training_prior < 1


def test_quality_and_calibration():
    result = quality([0.9, 0.8, 0.2, 0.1], [True, False, False, False])

    assert (result.precision, result.recall) == (0.5, 1.0)
    assert ece([1.0, 0.0], [True, False]) == 0.0
    assert ece([0.8] * 10, [True] * 8 + [False] * 2) == pytest.approx(0.0)


def test_fit_overlap_never_writes_the_shipped_model_by_default(tmp_path):
    shipped = Path(str(resources.files("mpi_classifier.models"))) / "overlap.json"
    before = shipped.read_bytes()

    result = CliRunner().invoke(
        cli.app, ["fit-overlap", "--train", str(FIXTURE), "--dev", str(FIXTURE)]
    )

    assert result.exit_code == 2
    assert "--out" in result.output
    assert shipped.read_bytes() == before
