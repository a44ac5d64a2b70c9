"""The `data` and `eval` commands end to end through typer."""

from __future__ import annotations

import json
import shlex

import pyarrow.parquet as pq
from typer.testing import CliRunner

from mpi_training.cli import build_app
from mpi_training.generate import GenerateParams
from mpi_training.geography import zip_table

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


def test_the_manifest_command_rebuilds_the_dataset(tmp_path, fake_parts):
    args = ["data", "generate", "--patients", "6", "--seed", "8", "--preset", "standard",
            "--no-life-events", "--no-field-profiles", "--registration-only-share", "0",
            "--state", "Massachusetts", "--workers", "1"]  # fmt: skip
    params = GenerateParams(
        patients=6, seed=8, life_events=False, field_profiles=False, registration_only_share=0.0
    )
    fake_parts(tmp_path / "first", params.simulation, 6)
    result = runner.invoke(build_app(), [*args, "--out", str(tmp_path / "first")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "first" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["life_events"] is False
    assert manifest["parameters"]["field_profiles"] is False
    assert manifest["parameters"]["registration_only_share"] == 0.0
    assert manifest["field_profiles"] == {}
    assert manifest["counts"]["registration_only_records"] == 0
    command = shlex.split(manifest["command"].replace("DIR", str(tmp_path / "second")))
    assert command[:3] == ["mpi", "data", "generate"]
    fake_parts(tmp_path / "second", params.simulation, 6)
    result = runner.invoke(build_app(), [*command[1:], "--workers", "1"])
    assert result.exit_code == 0, result.output
    for name in ("records.parquet", "events.parquet", "truth.parquet", "manifest.json"):
        first, second = tmp_path / "first" / name, tmp_path / "second" / name
        assert first.read_bytes() == second.read_bytes(), name


def test_no_ops_can_be_counted_on_any_preset(tmp_path, fake_parts):
    params = GenerateParams(patients=4, seed=8)
    fake_parts(tmp_path, params.simulation, 4)
    result = runner.invoke(
        build_app(),
        ["data", "generate", "--patients", "4", "--seed", "8", "--preset", "adversarial",
         "--no-redraw-no-ops", "--out", str(tmp_path), "--workers", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["corruption"]["redraw_no_ops"] is False
    assert manifest["parameters"]["preset"] == "adversarial+overrides"
    assert "--preset adversarial --no-redraw-no-ops" in manifest["command"]
    counts = manifest["counts"]
    changed = sum(int(k) * v for k, v in counts["errors_per_record"].items())
    assert changed < sum(int(k) * v for k, v in counts["attempts_per_record"].items())


def test_state_reaches_synthea_and_the_manifest(tmp_path, fake_parts):
    params = GenerateParams(patients=3, seed=8, state="Texas")
    fake_parts(tmp_path, params.simulation, 3)
    result = runner.invoke(
        build_app(),
        ["data", "generate", "--patients", "3", "--seed", "8", "--state", "Texas",
         "--out", str(tmp_path), "--workers", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["state"] == "Texas"
    assert "--state Texas" in manifest["command"]
    # Fake patients live in Boston; whoever moved lived somewhere in Texas before.
    texas = {p.postcode for p in zip_table("Texas").places}
    postcodes = set(pq.read_table(tmp_path / "records.parquet")["postcode"].to_pylist())
    assert postcodes - {"02118", None} <= texas


def test_generate_refuses_an_unknown_state_and_a_share_past_one(tmp_path):
    for flag, value in (("--state", "Atlantis"), ("--registration-only-share", "1.5")):
        result = runner.invoke(
            build_app(),
            ["data", "generate", "--patients", "3", "--seed", "8", flag, value,
             "--out", str(tmp_path)],
        )  # fmt: skip
        assert result.exit_code == 2, result.output
        assert flag in result.output
        assert not (tmp_path / "manifest.json").exists()


def test_load_requires_an_api_key(tmp_path, monkeypatch):
    monkeypatch.delenv("MPI_API_KEY", raising=False)
    result = runner.invoke(build_app(), ["data", "load", str(tmp_path)])
    assert result.exit_code != 0
