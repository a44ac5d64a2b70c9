"""Dataset assembly from checkpoints: determinism, nulls, truth and an exact error log."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import defaultdict

import pyarrow.parquet as pq
import pytest

from mpi_store.contracts import RecordCreate
from mpi_store.datasets import iter_payloads
from mpi_training.generate import GenerateParams, generate
from mpi_training.simulation import SimulationMismatchError

OUTPUTS = ("records.parquet", "events.parquet", "truth.parquet", "error_log.jsonl", "manifest.json")
PATIENTS = 60


@pytest.fixture
def dataset(tmp_path, fake_parts):
    params = GenerateParams.from_preset("clinfuse-inference", patients=PATIENTS, seed=11)
    out = tmp_path / "run"
    fake_parts(out, params.simulation, PATIENTS)
    manifest = generate(out, params, keep_parts=True)
    return out, params, manifest


def test_same_seed_and_parameters_give_byte_identical_files(dataset, tmp_path):
    out, params, _ = dataset
    again = tmp_path / "again"
    shutil.copytree(out / "parts", again / "parts")
    generate(again, params)
    for name in OUTPUTS:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    assert not (again / "parts").exists(), "checkpoints are removed after a finished run"


def test_another_seed_gives_other_corruption(dataset, tmp_path, fake_parts):
    out, _params, _ = dataset
    other = GenerateParams.from_preset("clinfuse-inference", patients=PATIENTS, seed=12)
    fake_parts(tmp_path / "other", other.simulation, PATIENTS)
    generate(tmp_path / "other", other)
    assert (out / "records.parquet").read_bytes() != (
        tmp_path / "other" / "records.parquet"
    ).read_bytes()


def test_nulls_stay_null_and_postcodes_stay_strings(dataset):
    out, _, _ = dataset
    table = pq.read_table(out / "records.parquet")
    assert table.schema.field("postcode").type == "string"
    assert table.schema.field("birth_date").type == "date32[day]"
    rows = table.to_pylist()
    nulls = 0
    for row in rows:
        for field, value in row.items():
            assert value not in ("nan", "None", "NaN", "00nan", ""), field
            nulls += value is None
        if row["postcode"] is not None:
            assert row["postcode"] == "02118"
    assert nulls > 0


def test_error_log_matches_the_data_exactly(dataset, make_history):
    out, _, manifest = dataset
    records = {
        (r["source"], r["source_record_id"]): r
        for r in pq.read_table(out / "records.parquet").to_pylist()
    }
    truth = {
        (r["source"], r["source_record_id"]): r
        for r in pq.read_table(out / "truth.parquet").to_pylist()
    }
    log = defaultdict(list)
    for line in (out / "error_log.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        log[(entry["source"], entry["source_record_id"])].append(entry)
    changes = 0
    for key, record in records.items():
        entries = log[key]
        last = {}
        for entry in entries:
            assert entry["before"] != entry["after"], "no-ops are not logged"
            if entry["field"] in last:
                assert entry["before"] == last[entry["field"]], "the log chains"
            last[entry["field"]] = entry["after"]
        for field, after in last.items():
            value = record[field]
            assert (value.isoformat() if isinstance(value, dt.date) else value) == after
        changes += len(entries)
        # Fields the log never touched hold the (household-adjusted) original value.
        if truth[key]["confusable_group"] is None:
            index = int(truth[key]["patient_id"].split("-")[1])
            original = make_history(index)["demographics"]
            for field in ("given_name", "family_name", "city", "ssn", "phone"):
                if field not in last:
                    assert record[field] == original[field]
    assert changes == manifest["counts"]["field_changes"]


def test_truth_has_one_row_per_record_and_counts_add_up(dataset):
    out, _, manifest = dataset
    truth = pq.read_table(out / "truth.parquet").to_pylist()
    records = pq.read_table(out / "records.parquet").to_pylist()
    assert [(t["source"], t["source_record_id"]) for t in truth] == [
        (r["source"], r["source_record_id"]) for r in records
    ]
    assert len({t["patient_id"] for t in truth}) == PATIENTS
    per_patient = manifest["counts"]["records_per_patient"]
    assert sum(int(k) * v for k, v in per_patient.items()) == len(records)
    groups = defaultdict(set)
    for t in truth:
        if t["confusable_group"]:
            groups[t["confusable_group"]].add(t["patient_id"])
    assert len(groups) == sum(manifest["counts"]["confusable_groups"].values()) == 3
    assert all(len(patients) == 2 for patients in groups.values())


def test_every_record_is_a_valid_post_body(dataset):
    out, _, _ = dataset
    total, payloads = iter_payloads(out)
    bodies = [RecordCreate.model_validate(p) for p in payloads]
    assert len(bodies) == total
    assert sum(len(b.clinical.observations) for b in bodies if b.clinical) == PATIENTS * 5


def test_resume_refuses_other_simulation_parameters(dataset):
    out, _, _ = dataset
    with pytest.raises(SimulationMismatchError):
        generate(out, GenerateParams(patients=PATIENTS, seed=99))
