"""`mpi train pairs` on data/fixture, then `mpi train evaluate` of the shipped MiniLM adapter
on a small part of it: the dataset's card, the evaluation files, the fusion written into the
model's card, and the registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mpi_classifier.backends.local import default_adapter
from mpi_linker.frames import record_key
from mpi_linker.model.artifact import load
from mpi_training.train.cli import app
from mpi_training.train.dataset import SPLITS, PairDataset, file_sha256

DATA = Path(__file__).resolve().parents[3] / "data"
FIXTURE = DATA / "fixture"
runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs") / "ds_fixture"
    # One negative per positive keeps the run short; the ratio's default is tested on its own.
    args = ["pairs", "--population", str(FIXTURE), "--out", str(out), "--negative-ratio", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.output
    return out


def test_the_card_counts_the_pairs_and_names_their_origin(dataset):
    card = json.loads((dataset / "card.json").read_text())
    pairs = pq.read_table(dataset / "pairs.parquet").to_pylist()

    by_kind = card["counts"]["by_kind"]
    counted = sum(
        n for split in SPLITS for kinds in by_kind[split].values() for n in kinds.values()
    )
    assert counted == len(pairs) == sum(card["counts"]["pairs"].values())
    positives = sum(p["label"] for p in pairs)
    assert card["counts"]["negative_ratio"]["all"] == pytest.approx(1.0, abs=0.01)
    assert (len(pairs) - positives) / positives == pytest.approx(1.0, abs=0.01)
    assert card["population"] == {
        "name": "fixture",
        "seed": 42,
        "records": 401,
        "patients": 200,
        "records_sha256": file_sha256(FIXTURE / "records.parquet"),
    }
    assert card["splink_model"] == load().version
    assert card["parameters"]["seed"] == 7
    assert card["pairs_sha256"] == PairDataset.load(dataset).sha256()
    tokens = card["tokens"]
    for text in ("summary", "pair"):
        lengths = [tokens[text][k] for k in ("p50", "p90", "p99", "max")]
        assert 0 < lengths[0] <= lengths[1] <= lengths[2] <= lengths[3]
    assert tokens["pair"]["max"] <= tokens["max_tokens"] == 256
    assert "ds_fixture" in (dataset / "README.md").read_text()


def test_the_dataset_holds_the_events_of_its_records(dataset):
    loaded = PairDataset.load(dataset)

    keys = {key for p in loaded.pairs for key in (p.first, p.second)}
    events = pq.read_table(FIXTURE / "events.parquet", columns=["source", "source_record_id"])
    with_events = {record_key(*row.values()) for row in events.to_pylist()}

    assert set(loaded.histories) == keys & with_events


def test_the_evaluation_population_is_refused(tmp_path):
    out = tmp_path / "ds"

    result = runner.invoke(app, ["pairs", "--population", str(DATA / "eval"), "--out", str(out)])

    assert result.exit_code == 2
    assert "never train on it" in " ".join(result.output.split())
    assert not out.exists()


def test_evaluate_scores_fits_the_fusion_and_registers_the_model(dataset, tmp_path):
    model = tmp_path / "minilm"
    shutil.copytree(default_adapter(), model)
    registry = tmp_path / "registry.json"
    args = ["evaluate", str(model), "--data", str(dataset), "--registry", str(registry)]

    result = runner.invoke(app, [*args, "--limit", "20"])

    assert result.exit_code == 0, result.output
    evaluation = json.loads((model / "evaluation.json").read_text())
    assert (model / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    assert evaluation["pairs"]["test"] == 20
    for backend in ("model", "overlap"):
        report = evaluation["backends"][backend]
        assert set(report["test"]) >= {"precision", "recall", "f1", "roc_auc", "ece"}
        assert report["test_gray"]["pairs"] == evaluation["pairs"]["test_gray"] > 0
    assert evaluation["backends"]["overlap"]["id"].startswith("overlap-")
    card = json.loads((model / "card.json").read_text())
    assert card["fusion"] == evaluation["backends"]["model"]["fusion"]
    assert card["fusion_fit"]["split"] == "val"
    saved = json.loads(registry.read_text())
    assert saved["champion"]["model_id"] == evaluation["model"]
    assert saved["champion"]["dataset_sha256"] == file_sha256(dataset / "pairs.parquet")
    assert "PROMOTED to champion" in " ".join(result.output.split())
    readme = (model / "README.md").read_text()
    assert readme.count("## Evaluation") == 1
    assert "| this model | test | 20 |" in readme


def test_evaluating_again_replaces_the_model_cards_evaluation(dataset, tmp_path):
    model = tmp_path / "minilm"
    shutil.copytree(default_adapter(), model)
    args = ["evaluate", str(model), "--data", str(dataset), "--registry", str(tmp_path / "r.json")]

    for limit in ("12", "14"):
        result = runner.invoke(app, [*args, "--limit", limit])
        assert result.exit_code == 0, result.output

    readme = (model / "README.md").read_text()
    assert readme.count("## Evaluation") == 1
    assert "| this model | test | 14 |" in readme
    card = (default_adapter() / "README.md").read_text()
    assert readme.startswith(card.split("\n## Evaluation")[0])
