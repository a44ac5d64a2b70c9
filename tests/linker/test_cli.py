"""`mpi linker train / check / thresholds`, on a dataset folder and on the stored records."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mpi_api.bulk import bulk_load
from mpi_linker.cli import app
from mpi_linker.model.artifact import ModelArtifact, load
from mpi_linker.model.chart import chart_path
from mpi_store.datasets import iter_payloads
from mpi_store.db import make_sessionmaker, unit_of_work
from tests.conftest import FIXTURE

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "model.json"
    result = runner.invoke(app, ["train", "--data", str(FIXTURE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_train_writes_a_checked_artifact_with_its_card_and_chart(trained):
    artifact = ModelArtifact.from_json(trained.read_text())
    assert artifact.card["training_data"]["manifest"]["seed"] == 42
    assert {row["comparison"] for row in artifact.card["levels"]} >= {"postcode", "sex"}
    assert chart_path(trained).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    result = runner.invoke(app, ["check", str(trained)])
    assert result.exit_code == 0, result.output
    assert "every level trained" in result.output


def test_check_fails_on_a_degenerate_model(tmp_path):
    artifact = load()
    splink = json.loads(json.dumps(artifact.splink))
    sex = next(c for c in splink["comparisons"] if c["output_column_name"] == "sex")
    sex["comparison_levels"][-1]["m_probability"] = 1e-27
    path = tmp_path / "bad.json"
    path.write_text(ModelArtifact(artifact.version, splink, artifact.thresholds).to_json())

    result = runner.invoke(app, ["check", str(path)])

    assert result.exit_code == 1
    assert "sex / All other comparisons: m_below_floor" in " ".join(result.output.split())


def test_a_user_mistake_is_one_line_and_exit_2(tmp_path):
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "m.json")])
    assert result.exit_code == 2
    assert "--data DIR" in result.output

    (tmp_path / "nope.json").write_text("{}")
    result = runner.invoke(app, ["check", str(tmp_path / "nope.json")])
    assert result.exit_code == 2


def test_thresholds_are_refit_from_labels(trained, tmp_path):
    out = tmp_path / "refit.json"
    labels = FIXTURE / "truth.parquet"

    result = runner.invoke(
        app,
        [
            "thresholds",
            str(trained),
            "--labels",
            str(labels),
            "--data",
            str(FIXTURE),
            "--out",
            str(out),
        ],
    )

    assert result.exit_code == 0, result.output
    refit = ModelArtifact.from_json(out.read_text())
    before = ModelArtifact.from_json(trained.read_text())
    assert refit.splink == before.splink
    bounds = refit.thresholds
    assert 0 <= bounds.reject <= bounds.accept_alone <= bounds.auto <= 1
    assert refit.card["thresholds_from"]["auto_precision"] >= 0.999


def test_train_from_the_database_reads_the_stored_records(
    committed_engine, database_url, tmp_path, monkeypatch
):
    _, payloads = iter_payloads(FIXTURE)
    with unit_of_work(make_sessionmaker(committed_engine)) as session:
        bulk_load(session, payloads=payloads, artifact=load())
    monkeypatch.setenv("MPI_DATABASE_URL", database_url)
    out = tmp_path / "from-db.json"

    result = runner.invoke(app, ["train", "--from-database", "--out", str(out)])

    assert result.exit_code == 0, result.output
    artifact = ModelArtifact.from_json(out.read_text())
    assert artifact.card["records"] == 401
    assert artifact.card["training_data"]["source"] == "database"
