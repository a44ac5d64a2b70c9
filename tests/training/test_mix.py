"""Mixing datasets of one population: each patient once, from one of them, every file kept."""

from __future__ import annotations

from collections import defaultdict

import pyarrow.parquet as pq
import pytest

from mpi_training.generate import GenerateParams, generate
from mpi_training.mix import MixError, mix

PATIENTS = 30


@pytest.fixture
def two_presets(tmp_path, fake_parts):
    folders = []
    for preset in ("clinfuse-training", "clinfuse-inference"):
        params = GenerateParams.from_preset(preset, patients=PATIENTS, seed=5)
        out = tmp_path / preset
        fake_parts(out, params.simulation, PATIENTS)
        generate(out, params)
        folders.append(out)
    return folders


def test_each_patient_comes_once_from_one_dataset(two_presets, tmp_path):
    manifest = mix(two_presets, tmp_path / "mixed")

    truth = pq.read_table(tmp_path / "mixed" / "truth.parquet").to_pylist()
    records = pq.read_table(tmp_path / "mixed" / "records.parquet").to_pylist()
    assert len({row["patient_id"] for row in truth}) == PATIENTS
    assert len(records) == len(truth)
    # Every patient's records all come from the one dataset it was drawn from.
    originals = {
        folder.name: {
            (r["source"], r["source_record_id"]): r
            for r in pq.read_table(folder / "records.parquet").to_pylist()
        }
        for folder in two_presets
    }
    owner = defaultdict(set)
    by_key = {(t["source"], t["source_record_id"]): t["patient_id"] for t in truth}
    for record in records:
        key = (record["source"], record["source_record_id"])
        owner[by_key[key]] |= {n for n, rows in originals.items() if rows[key] == record}
    assert all(owner.values())
    assert all(counts > 0 for counts in manifest["counts"]["patients_from"].values())
    events = pq.read_table(tmp_path / "mixed" / "events.parquet")
    assert set(
        zip(events["source"].to_pylist(), events["source_record_id"].to_pylist(), strict=True)
    ) <= set(by_key)


def test_datasets_of_other_patients_are_refused(two_presets, tmp_path, fake_parts):
    params = GenerateParams.from_preset("clinfuse-training", patients=PATIENTS + 1, seed=6)
    other = tmp_path / "other"
    fake_parts(other, params.simulation, PATIENTS + 1)
    generate(other, params)

    with pytest.raises(MixError, match="different patients"):
        mix([two_presets[0], other], tmp_path / "mixed")


def test_the_command_mixes_or_says_what_is_wrong(two_presets, tmp_path):
    from typer.testing import CliRunner

    from mpi_training.cli import data_app

    runner = CliRunner()
    result = runner.invoke(data_app, ["mix", *map(str, two_presets), "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert f"{PATIENTS} patients" in result.output

    result = runner.invoke(data_app, ["mix", str(two_presets[0]), "--out", str(tmp_path / "n")])
    assert result.exit_code == 2
