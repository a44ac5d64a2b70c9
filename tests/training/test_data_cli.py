"""The `data` and `eval` commands end to end through typer."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mpi_training.cli import build_app
from mpi_training.generate import GenerateParams

runner = CliRunner()


def test_febrl_then_eval_with_the_truth_as_prediction(tmp_path):
    app = build_app()
    result = runner.invoke(app, ["data", "febrl", "--dataset", "febrl1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        [
            "eval",
            "--truth", str(tmp_path / "truth.parquet"),
            "--pred", str(tmp_path / "truth.parquet"),
            "--json", str(tmp_path / "metrics.json"),
        ],
    )  # fmt: skip
    assert result.exit_code != 0, "truth has no cluster column"
    (tmp_path / "pred.csv").write_text(
        "source,source_record_id,cluster_id\nfebrl1,rec-0-org,x\nfebrl1,rec-0-dup-0,x\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        [
            "eval",
            "--truth", str(tmp_path / "truth.parquet"),
            "--pred", str(tmp_path / "pred.csv"),
            "--json", str(tmp_path / "metrics.json"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["overall"]["records"] == 1000
    assert metrics["overall"]["true_positive_pairs"] == 1
    assert metrics["overall"]["unpredicted_records"] == 998
    assert "pairwise_f1" in result.output


def test_generate_from_checkpoints(tmp_path, fake_parts):
    params = GenerateParams.from_preset("clinfuse-training", patients=5, seed=8)
    fake_parts(tmp_path, params.simulation, 5)
    result = runner.invoke(
        build_app(),
        ["data", "generate", "--patients", "5", "--seed", "8", "--preset", "clinfuse-training",
         "--out", str(tmp_path), "--workers", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["command"].startswith("mpi data generate --patients 5 --seed 8")


def test_load_requires_an_api_key(tmp_path, monkeypatch):
    monkeypatch.delenv("MPI_API_KEY", raising=False)
    result = runner.invoke(build_app(), ["data", "load", str(tmp_path)])
    assert result.exit_code != 0
