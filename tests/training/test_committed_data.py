"""The committed fixture and evaluation set agree with their manifests and the record contract."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mpi_store.datasets import iter_payloads
from mpi_store.domain.contracts import RecordCreate
from mpi_training.generate import GenerateParams

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.mark.parametrize(
    ("name", "preset", "patients"),
    [("fixture", "clinfuse-training", 200), ("eval", "clinfuse-inference", 1500)],
)
def test_files_match_the_manifest(name, preset, patients):
    folder = DATA / name
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    counts = manifest["counts"]
    assert manifest["parameters"]["preset"] == preset
    assert counts["patients"] == patients
    truth = pq.read_table(folder / "truth.parquet").to_pylist()
    assert len(truth) == counts["records"] == pq.read_metadata(folder / "records.parquet").num_rows
    assert pq.read_metadata(folder / "events.parquet").num_rows == counts["events"]
    per_patient = Counter(Counter(t["patient_id"] for t in truth).values())
    assert {str(k): v for k, v in sorted(per_patient.items())} == counts["records_per_patient"]
    lines = (folder / "error_log.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == counts["field_changes"]
    assert not (folder / "parts").exists()


@pytest.mark.parametrize("name", ["fixture", "eval"])
def test_the_manifest_command_reproduces_the_committed_files(name):
    # Both sets predate life events, collection profiles and registration-only records; their
    # command turns those off, and those flags give the old code's bytes.
    manifest = json.loads((DATA / name / "manifest.json").read_text(encoding="utf-8"))
    parameters = manifest["parameters"]
    params = GenerateParams.from_preset(
        parameters["preset"],
        patients=parameters["patients"],
        seed=parameters["seed"],
        life_events=False,
        field_profiles=False,
        registration_only_share=0.0,
    )
    assert params.corruption.as_json() == {**parameters["corruption"], "redraw_no_ops": True}
    assert params.command() == manifest["command"]


def test_fixture_records_are_valid_post_bodies():
    total, payloads = iter_payloads(DATA / "fixture")
    assert sum(1 for p in payloads if RecordCreate.model_validate(p)) == total
