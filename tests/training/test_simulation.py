"""Real Synthea runs (two patients): reproducible checkpoints, resume, contract-valid output."""

from __future__ import annotations

import shutil

import pytest

from mpi_store.datasets import iter_payloads
from mpi_store.domain.contracts import RecordCreate
from mpi_training.generate import GenerateParams, generate
from mpi_training.simulation import SimulationParams, part_path, simulate

PARAMS = SimulationParams(seed=2024)


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sim") / "parts"
    kept = simulate(folder, PARAMS, 2)
    return folder, kept


def test_resume_recreates_identical_checkpoints(parts, tmp_path):
    folder, kept = parts
    copy = tmp_path / "parts"
    shutil.copytree(folder, copy)
    removed = part_path(copy, kept[-1])
    removed.unlink()
    assert simulate(copy, PARAMS, 2) == kept
    assert removed.read_bytes() == part_path(folder, kept[-1]).read_bytes()


def test_synthea_patients_become_valid_records(parts, tmp_path):
    folder, _ = parts
    params = GenerateParams.from_preset("clinfuse-training", patients=2, seed=2024)
    shutil.copytree(folder, tmp_path / "out" / "parts")
    manifest = generate(tmp_path / "out", params)
    assert manifest["counts"]["patients"] == 2
    assert manifest["counts"]["events"] > 0
    total, payloads = iter_payloads(tmp_path / "out")
    records = [RecordCreate.model_validate(p) for p in payloads]
    assert len(records) == total == manifest["counts"]["records"]
    assert any(r.clinical and r.clinical.encounters for r in records)
